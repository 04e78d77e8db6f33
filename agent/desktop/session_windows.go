package desktop

// The session commands on Windows, through user32 and powrprof: the lock,
// sleep, the media keys, and GetLastInputInfo for the idle time. Setting
// the volume needs Core Audio (COM), which this build does not speak yet.

import (
	"context"
	"syscall"
	"time"
	"unsafe"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

var (
	user32           = syscall.NewLazyDLL("user32.dll")
	kernel32         = syscall.NewLazyDLL("kernel32.dll")
	powrprof         = syscall.NewLazyDLL("powrprof.dll")
	lockWorkStation  = user32.NewProc("LockWorkStation")
	keybdEvent       = user32.NewProc("keybd_event")
	getLastInputInfo = user32.NewProc("GetLastInputInfo")
	getTickCount     = kernel32.NewProc("GetTickCount")
	setSuspendState  = powrprof.NewProc("SetSuspendState")
)

// Virtual key codes of the media keys.
var mediaKeys = map[string]uintptr{
	commands.MediaPlayPause: 0xB3, commands.MediaPlay: 0xB3, commands.MediaPause: 0xB3,
	commands.MediaNext: 0xB0, commands.MediaPrevious: 0xB1, commands.MediaStop: 0xB2,
}

const keyUp = 0x0002 // KEYEVENTF_KEYUP

func lockScreen(context.Context) (string, error) {
	if r, _, err := lockWorkStation.Call(); r == 0 {
		return "", protocol.Errorf(protocol.CodeUnavailable, "LockWorkStation: %v", err)
	}
	return "LockWorkStation", nil
}

func suspend(context.Context) (string, error) {
	if r, _, err := setSuspendState.Call(0, 0, 0); r == 0 {
		return "", protocol.Errorf(protocol.CodeUnavailable, "SetSuspendState: %v", err)
	}
	return "SetSuspendState", nil
}

func setVolume(context.Context, commands.VolumeChange) (commands.VolumeState, error) {
	return commands.VolumeState{}, protocol.Errorf(protocol.CodeUnavailable, noVolume)
}

const noVolume = "setting the volume needs Core Audio, which this build does not use yet"

func mediaAction(_ context.Context, action string) (string, error) {
	vk, ok := mediaKeys[action]
	if !ok {
		return "", protocol.Errorf(protocol.CodeInvalidArgs, "unknown media action %q", action)
	}
	if err := keybdEvent.Find(); err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "keybd_event: %v", err)
	}
	keybdEvent.Call(vk, 0, 0, 0)
	keybdEvent.Call(vk, 0, keyUp, 0)
	return "media key", nil
}

func sessionUnavailable(context.Context) map[string]string {
	return map[string]string{protocol.CommandVolume: noVolume}
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
