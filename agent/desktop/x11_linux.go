//go:build cgo

package desktop

/*
#cgo linux LDFLAGS: -lX11 -lXtst
#include <stdlib.h>
#include <X11/Xlib.h>
#include <X11/XKBlib.h>
#include <X11/keysym.h>
#include <X11/extensions/XTest.h>

// tether_x_check opens the display named by DISPLAY and closes it again; it
// returns 0 when the display opened. XInitThreads runs first, once, before any
// other Xlib call of the process: robotgo, gohook and this file each use
// their own connections from several threads.
static int tether_x_check(void) {
	static int threads = 0;
	if (!threads) { XInitThreads(); threads = 1; }
	Display *d = XOpenDisplay(NULL);
	if (d == NULL) return -1;
	XCloseDisplay(d);
	return 0;
}

static Display *tether_x_open(void) { return XOpenDisplay(NULL); }
static void tether_x_close(Display *d) { XCloseDisplay(d); }

// tether_x_scratch returns a keycode with no keysyms on it, which can be
// borrowed to type a character the keyboard map lacks, or 0.
static int tether_x_scratch(Display *d) {
	int min = 0, max = 0, per = 0, found = 0;
	XDisplayKeycodes(d, &min, &max);
	KeySym *m = XGetKeyboardMapping(d, min, max - min + 1, &per);
	if (m == NULL) return 0;
	for (int k = max; k >= min && !found; k--) {
		int empty = 1;
		for (int j = 0; j < per; j++) {
			if (m[(k - min) * per + j] != NoSymbol) { empty = 0; break; }
		}
		if (empty) found = k;
	}
	XFree(m);
	return found;
}

// tether_x_find returns the keycode that types sym, and sets *shift when it
// is on the key's shifted level; 0 when no key types it at level 0 or 1.
static int tether_x_find(Display *d, unsigned long sym, int *shift) {
	KeyCode code = XKeysymToKeycode(d, (KeySym)sym);
	*shift = 0;
	if (code == 0) return 0;
	if (XkbKeycodeToKeysym(d, code, 0, 0) == (KeySym)sym) return code;
	if (XkbKeycodeToKeysym(d, code, 0, 1) == (KeySym)sym) { *shift = 1; return code; }
	return 0;
}

// tether_x_map puts sym on both levels of keycode (or clears it for NoSymbol).
static void tether_x_map(Display *d, int code, unsigned long sym) {
	KeySym syms[2] = {(KeySym)sym, (KeySym)sym};
	XChangeKeyboardMapping(d, code, 2, syms, 1);
	XSync(d, False);
}

// tether_x_tap presses and releases keycode, holding Shift if asked.
static void tether_x_tap(Display *d, int code, int shift) {
	KeyCode sh = XKeysymToKeycode(d, XK_Shift_L);
	if (shift) XTestFakeKeyEvent(d, sh, True, CurrentTime);
	XTestFakeKeyEvent(d, code, True, CurrentTime);
	XTestFakeKeyEvent(d, code, False, CurrentTime);
	if (shift) XTestFakeKeyEvent(d, sh, False, CurrentTime);
	XSync(d, False);
}
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// displayCheck reports why no X display can be used, or "" when one opens.
// It never calls robotgo: robotgo kills the process when it has no display.
func displayCheck() string {
	name := os.Getenv("DISPLAY")
	if name == "" {
		return "no X display (DISPLAY is not set)"
	}
	if C.tether_x_check() != 0 {
		return fmt.Sprintf("no X display (cannot open DISPLAY %q)", name)
	}
	return ""
}

// Pauses while typing: receivers read the keyboard map again after a change,
// and some drop keys that arrive faster than they draw.
const (
	keyGap   = 2 * time.Millisecond
	remapGap = 30 * time.Millisecond
)

// typeText types text through XTest on a connection of its own. Characters
// the keyboard map lacks are typed by borrowing an unused keycode for a
// moment, as xdotool does. The caller has checked the display.
func typeText(ctx context.Context, text string) error {
	d := C.tether_x_open()
	if d == nil {
		return protocol.Errorf(protocol.CodeUnavailable, "no X display (cannot open DISPLAY %q)", os.Getenv("DISPLAY"))
	}
	defer C.tether_x_close(d)
	scratch := C.tether_x_scratch(d)
	for _, r := range text {
		if err := ctx.Err(); err != nil {
			return err
		}
		sym := keysym(r)
		var shift C.int
		code := C.tether_x_find(d, C.ulong(sym), &shift)
		if code == 0 {
			if scratch == 0 {
				return protocol.Errorf(protocol.CodeUnavailable, "cannot type %q: the keyboard map has no free key to borrow", r)
			}
			C.tether_x_map(d, scratch, C.ulong(sym))
			time.Sleep(remapGap)
			C.tether_x_tap(d, scratch, 0)
			time.Sleep(remapGap)
			C.tether_x_map(d, scratch, 0)
			continue
		}
		C.tether_x_tap(d, code, shift)
		time.Sleep(keyGap)
	}
	return nil
}

// keysym returns the X keysym of r: Return and Tab for '\n' and '\t',
// Latin-1 as itself, anything else as a Unicode keysym.
func keysym(r rune) uint32 {
	switch {
	case r == '\n':
		return 0xff0d // XK_Return
	case r == '\t':
		return 0xff09 // XK_Tab
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xff:
		return uint32(r)
	default:
		return 0x01000000 | uint32(r)
	}
}
