package desktop

// The session commands on Windows, through user32 and powrprof: the lock,
// sleep, the media keys (SendInput), and GetLastInputInfo for the idle
// time. The volume is in volume_windows.go (Core Audio), the clipboard in
// clipboard_windows.go.

import (
	"context"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

var (
	user32              = windows.NewLazySystemDLL("user32.dll")
	kernel32            = windows.NewLazySystemDLL("kernel32.dll")
	powrprof            = windows.NewLazySystemDLL("powrprof.dll")
	lockWorkStation     = user32.NewProc("LockWorkStation")
	sendInput           = user32.NewProc("SendInput")
	getLastInputInfo    = user32.NewProc("GetLastInputInfo")
	getTickCount        = kernel32.NewProc("GetTickCount")
	setSuspendState     = powrprof.NewProc("SetSuspendState")
	isPwrSuspendAllowed = powrprof.NewProc("IsPwrSuspendAllowed")
)

// Virtual key codes of the media keys. Windows has one play/pause key, so
// play and pause are that key too.
var mediaKeys = map[string]uint16{
	commands.MediaPlayPause: 0xB3, commands.MediaPlay: 0xB3, commands.MediaPause: 0xB3, // VK_MEDIA_PLAY_PAUSE
	commands.MediaNext: 0xB0, commands.MediaPrevious: 0xB1, commands.MediaStop: 0xB2, // VK_MEDIA_NEXT_TRACK, _PREV_TRACK, _STOP
}

// keyInput is user32's INPUT holding a KEYBDINPUT: Go aligns ki as C
// does, and the padding makes up the rest of the union (MOUSEINPUT is
// larger), so the size is 40 bytes on 64-bit Windows and 28 on 32-bit.
type keyInput struct {
	kind uint32 // INPUT_KEYBOARD
	ki   keybdInput
	_    [8]byte
}

// keybdInput is user32's KEYBDINPUT.
type keybdInput struct {
	vk, scan    uint16
	flags, time uint32
	extra       uintptr
}

const (
	inputKeyboard = 1
	keyExtended   = 0x0001 // KEYEVENTF_EXTENDEDKEY
	keyUp         = 0x0002 // KEYEVENTF_KEYUP
)

func lockScreen(context.Context) (string, error) {
	if r, _, err := lockWorkStation.Call(); r == 0 {
		return "", protocol.Errorf(protocol.CodeUnavailable, "LockWorkStation: %v", err)
	}
	return "LockWorkStation", nil
}

func suspend(context.Context) (string, error) {
	if why := sleepUnavailable(); why != "" {
		return "", protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	if r, _, err := setSuspendState.Call(0, 0, 0); r == 0 {
		return "", protocol.Errorf(protocol.CodeUnavailable, "SetSuspendState: %v", err)
	}
	return "SetSuspendState", nil
}

// sleepUnavailable says why the computer cannot be put to sleep ("" if it
// can): powrprof missing, or no sleep state the hardware and policy allow.
func sleepUnavailable() string {
	if err := isPwrSuspendAllowed.Find(); err != nil {
		return "powrprof.dll: " + err.Error()
	}
	if r, _, _ := isPwrSuspendAllowed.Call(); r == 0 {
		return "Windows says this computer cannot sleep (IsPwrSuspendAllowed: no sleep state is available)"
	}
	return ""
}

// mediaAction presses and releases the media key of action with SendInput:
// Windows gives it to the app that handles media keys (the one playing).
func mediaAction(_ context.Context, action string) (string, error) {
	vk, ok := mediaKeys[action]
	if !ok {
		return "", protocol.Errorf(protocol.CodeInvalidArgs, "unknown media action %q", action)
	}
	if err := sendInput.Find(); err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "SendInput: %v", err)
	}
	in := [2]keyInput{
		{kind: inputKeyboard, ki: keybdInput{vk: vk, flags: keyExtended}},
		{kind: inputKeyboard, ki: keybdInput{vk: vk, flags: keyExtended | keyUp}},
	}
	n, _, err := sendInput.Call(uintptr(len(in)), uintptr(unsafe.Pointer(&in[0])), unsafe.Sizeof(in[0]))
	if n != uintptr(len(in)) {
		// Blocked by UIPI (a higher-integrity window has the focus) or by a
		// desktop that takes no input (the secure desktop, a locked session).
		return "", protocol.Errorf(protocol.CodeUnavailable, "SendInput took %d of 2 key events: %v", n, err)
	}
	return "media key", nil
}

// sessionUnavailable says which session commands cannot run now: volume
// without a default output device, sleep where Windows allows none.
func sessionUnavailable(ctx context.Context) map[string]string {
	out := map[string]string{}
	if why := volumeUnavailable(ctx); why != "" {
		out[protocol.CommandVolume] = why
	}
	if why := sleepUnavailable(); why != "" {
		out[protocol.CommandSleep] = why
	}
	return out
}

// idleTime asks GetLastInputInfo when the last input was.
func (d *Desktop) idleTime(context.Context) (time.Duration, error) {
	info := struct {
		size uint32
		time uint32
	}{size: 8}
	if r, _, err := getLastInputInfo.Call(uintptr(unsafe.Pointer(&info))); r == 0 {
		return 0, protocol.Errorf(protocol.CodeUnavailable, "GetLastInputInfo: %v", err)
	}
	now, _, _ := getTickCount.Call()
	return time.Duration(uint32(now)-info.time) * time.Millisecond, nil
}
