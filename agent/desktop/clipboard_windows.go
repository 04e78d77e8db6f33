package desktop

// The Windows clipboard, as Unicode text (CF_UNICODETEXT). Only one thread
// in the whole session may have the clipboard open at a time, so opening
// it is retried while another program holds it, until shortly before the
// command's deadline.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

var (
	openClipboard              = user32.NewProc("OpenClipboard")
	closeClipboard             = user32.NewProc("CloseClipboard")
	emptyClipboard             = user32.NewProc("EmptyClipboard")
	getClipboardData           = user32.NewProc("GetClipboardData")
	setClipboardData           = user32.NewProc("SetClipboardData")
	isClipboardFormatAvailable = user32.NewProc("IsClipboardFormatAvailable")
	getOpenClipboardWindow     = user32.NewProc("GetOpenClipboardWindow")
	getWindowThreadProcessID   = user32.NewProc("GetWindowThreadProcessId")
	globalAlloc                = kernel32.NewProc("GlobalAlloc")
	globalFree                 = kernel32.NewProc("GlobalFree")
	globalLock                 = kernel32.NewProc("GlobalLock")
	globalUnlock               = kernel32.NewProc("GlobalUnlock")
	globalSize                 = kernel32.NewProc("GlobalSize")
	createWindowEx             = user32.NewProc("CreateWindowExW")
	destroyWindow              = user32.NewProc("DestroyWindow")
)

const (
	cfUnicodeText = 13     // CF_UNICODETEXT
	gmemMoveable  = 0x0002 // GMEM_MOVEABLE
)

// Bounds of the wait for a clipboard another program holds open.
const (
	clipRetryFirst = 10 * time.Millisecond
	clipRetryMax   = 100 * time.Millisecond
	clipMargin     = 300 * time.Millisecond // left before the deadline to answer
	clipWaitMax    = 3 * time.Second        // when ctx has no deadline
)

// winClipboard reaches the clipboard of the session the agent runs in.
// Safe for concurrent use: each call opens and closes the clipboard on a
// locked thread.
type winClipboard struct{ log *slog.Logger }

func newClipboard(log *slog.Logger) clipboard { return winClipboard{log: log} }

func (winClipboard) unavailable(screenBackend) string { return "" }
func (winClipboard) close()                           {}

// open opens the clipboard for the calling thread (which the caller has
// locked), retrying while another program holds it open. It returns a
// function that closes it. The clipboard is opened for a message-only
// window of the thread, made for the occasion: opened for no window,
// EmptyClipboard leaves the clipboard without an owner, and Windows
// documents that SetClipboardData then fails.
func (c winClipboard) open(ctx context.Context) (func(), error) {
	hwnd, err := messageWindow()
	if err != nil {
		return nil, err
	}
	closeIt, err := c.openFor(ctx, hwnd)
	if err != nil {
		destroyWindow.Call(hwnd)
		return nil, err
	}
	return func() { closeIt(); destroyWindow.Call(hwnd) }, nil
}

// messageWindow makes a message-only window (a STATIC control under
// HWND_MESSAGE) on the calling thread.
func messageWindow() (uintptr, error) {
	class, _ := windows.UTF16PtrFromString("STATIC")
	const hwndMessage = ^uintptr(2) // HWND_MESSAGE, (HWND)-3
	hwnd, _, err := createWindowEx.Call(0, uintptr(unsafe.Pointer(class)), 0, 0, 0, 0, 0, 0, hwndMessage, 0, 0, 0)
	if hwnd == 0 {
		return 0, protocol.Errorf(protocol.CodeUnavailable, "CreateWindowEx (a window to own the clipboard): %v", err)
	}
	return hwnd, nil
}

func (c winClipboard) openFor(ctx context.Context, hwnd uintptr) (func(), error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(clipWaitMax + clipMargin)
	}
	wait := clipRetryFirst
	for tries := 1; ; tries++ {
		r, _, err := openClipboard.Call(hwnd)
		if r != 0 {
			if tries > 1 {
				c.log.Debug("clipboard opened after retries", "tries", tries)
			}
			return func() { closeClipboard.Call() }, nil
		}
		if tries == 1 {
			c.log.Debug("clipboard busy, retrying", "err", err, "holder", clipboardHolder())
		}
		if time.Until(deadline) < clipMargin+wait {
			return nil, protocol.Errorf(protocol.CodeUnavailable, "the clipboard stays open in another program%s (tried %d times: %v)", clipboardHolder(), tries, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, clipRetryMax)
	}
}

// clipboardHolder names the process whose window holds the clipboard open,
// as " (process N)", or "" when Windows does not say.
func clipboardHolder() string {
	hwnd, _, _ := getOpenClipboardWindow.Call()
	if hwnd == 0 {
		return ""
	}
	var pid uint32
	getWindowThreadProcessID.Call(hwnd, uintptr(unsafe.Pointer(&pid)))
	return fmt.Sprintf(" (process %d)", pid)
}

// get reads the clipboard's Unicode text, at most MaxClipboardGet bytes of
// it in UTF-8. A clipboard without text reads as "".
func (c winClipboard) get(ctx context.Context) (string, bool, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	closeIt, err := c.open(ctx)
	if err != nil {
		return "", false, err
	}
	defer closeIt()
	if r, _, _ := isClipboardFormatAvailable.Call(cfUnicodeText); r == 0 {
		return "", false, nil
	}
	h, _, err := getClipboardData.Call(cfUnicodeText)
	if h == 0 {
		return "", false, fmt.Errorf("GetClipboardData: %w", err)
	}
	size, _, _ := globalSize.Call(h)
	p, _, err := globalLock.Call(h)
	if p == 0 {
		return "", false, fmt.Errorf("GlobalLock: %w", err)
	}
	defer globalUnlock.Call(h)
	// Every UTF-16 unit is at least one byte of UTF-8: reading one unit
	// more than the byte bound is enough to fill it and to know it was cut.
	units := unsafe.Slice((*uint16)(ptrFrom(p)), min(int(size/2), commands.MaxClipboardGet+1))
	n := 0
	for n < len(units) && units[n] != 0 {
		n++
	}
	more := n == commands.MaxClipboardGet+1
	text, cut := clipText(utf16ToUTF8(units[:n]), more)
	return text, cut, nil
}

// set puts text on the clipboard, in place of everything there.
func (c winClipboard) set(ctx context.Context, text string) error {
	if !utf8.ValidString(text) {
		return protocol.Errorf(protocol.CodeInvalidArgs, "the text is not valid UTF-8")
	}
	u := utf16.Encode([]rune(text))
	u = append(u, 0)
	h, _, err := globalAlloc.Call(gmemMoveable, uintptr(len(u)*2))
	if h == 0 {
		return fmt.Errorf("GlobalAlloc %d bytes: %w", len(u)*2, err)
	}
	owned := false // once SetClipboardData took it, the system frees h
	defer func() {
		if !owned {
			globalFree.Call(h)
		}
	}()
	p, _, err := globalLock.Call(h)
	if p == 0 {
		return fmt.Errorf("GlobalLock: %w", err)
	}
	copy(unsafe.Slice((*uint16)(ptrFrom(p)), len(u)), u)
	globalUnlock.Call(h)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	closeIt, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closeIt()
	if r, _, err := emptyClipboard.Call(); r == 0 {
		return fmt.Errorf("EmptyClipboard: %w", err)
	}
	if r, _, err := setClipboardData.Call(cfUnicodeText, h); r == 0 {
		return fmt.Errorf("SetClipboardData: %w", err)
	}
	owned = true
	return nil
}

// utf16ToUTF8 decodes UTF-16 (a lone surrogate becomes U+FFFD).
func utf16ToUTF8(u []uint16) []byte {
	b := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		b = utf8.AppendRune(b, r)
	}
	return b
}

// ptrFrom turns an address Windows returned (memory Windows owns, outside
// Go's heap) into a pointer, without the uintptr conversion vet warns of.
func ptrFrom(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }
