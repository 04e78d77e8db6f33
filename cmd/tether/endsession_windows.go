package main

import (
	"log/slog"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has no SIGTERM for a GUI-subsystem program: it asks the program's
// top-level windows to close (WM_CLOSE from `taskkill` without /F, Task
// Manager's "End task"), and at logoff or shutdown sends WM_QUERYENDSESSION
// and WM_ENDSESSION, after which it ends the process. watchEndSession gives
// the agent a hidden top-level window that turns these into a clean stop,
// so status.json says "stopped" and the relay sees the link closed.

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	procRegisterClassExW = user32.NewProc("RegisterClassExW")
	procCreateWindowExW  = user32.NewProc("CreateWindowExW")
	procDefWindowProcW   = user32.NewProc("DefWindowProcW")
	procDestroyWindow    = user32.NewProc("DestroyWindow")
	procGetMessageW      = user32.NewProc("GetMessageW")
	procTranslateMessage = user32.NewProc("TranslateMessage")
	procDispatchMessageW = user32.NewProc("DispatchMessageW")
	procPostMessageW     = user32.NewProc("PostMessageW")
	procPostQuitMessage  = user32.NewProc("PostQuitMessage")
)

const (
	wmDestroy          = 0x0002
	wmClose            = 0x0010
	wmQueryEndSession  = 0x0011
	wmEndSession       = 0x0016
	wmUser             = 0x0400
	wmQuitQuietly      = wmUser + 1 // posted by the returned closer
	endSessionMaxDelay = 10 * time.Second
)

type wndClassEx struct {
	size, style                        uint32
	wndProc                            uintptr
	clsExtra, wndExtra                 int32
	instance, icon, cursor, background windows.Handle
	menuName, className                *uint16
	iconSm                             windows.Handle
}

type msg struct {
	hwnd           windows.Handle
	message        uint32
	wParam, lParam uintptr
	time           uint32
	pt             struct{ x, y int32 }
}

// endSession is the one window's state (a window procedure is a callback
// with no closure, and Windows allows few callbacks per process).
var endSession struct {
	once    sync.Once
	wndProc uintptr
	mu      sync.Mutex
	stop    func()
	stopped chan struct{}
	log     *slog.Logger
}

func endSessionProc(hwnd windows.Handle, message uint32, wParam, lParam uintptr) uintptr {
	switch message {
	case wmClose, wmQueryEndSession, wmEndSession:
		if message == wmEndSession && wParam == 0 {
			break // the session goes on
		}
		endSession.mu.Lock()
		stop, stopped, log := endSession.stop, endSession.stopped, endSession.log
		endSession.mu.Unlock()
		if stop != nil && message != wmQueryEndSession {
			name := map[uint32]string{wmClose: "WM_CLOSE", wmEndSession: "WM_ENDSESSION"}[message]
			log.Info("Windows asked Tether to close: stopping", "message", name)
			stop()
		}
		if message == wmEndSession && stopped != nil {
			// The process ends when this returns: let the agent finish first.
			select {
			case <-stopped:
			case <-time.After(endSessionMaxDelay):
			}
		}
		if message == wmQueryEndSession {
			return 1 // Tether never holds up a logoff
		}
		return 0
	case wmQuitQuietly:
		procDestroyWindow.Call(uintptr(hwnd))
		return 0
	case wmDestroy:
		procPostQuitMessage.Call(0)
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(uintptr(hwnd), uintptr(message), wParam, lParam)
	return r
}

// watchEndSession calls stop when Windows asks the program to close or the
// session ends. The returned function, called once the agent has stopped,
// removes the window.
func watchEndSession(stop func(), log *slog.Logger) (done func()) {
	endSession.once.Do(func() { endSession.wndProc = windows.NewCallback(endSessionProc) })
	stopped := make(chan struct{})
	endSession.mu.Lock()
	endSession.stop, endSession.stopped, endSession.log = stop, stopped, log
	endSession.mu.Unlock()
	hwndc := make(chan windows.Handle, 1)
	go func() { // owned here: done waits for it
		runtime.LockOSThread() // a window belongs to the thread that made it
		defer runtime.UnlockOSThread()
		class, _ := windows.UTF16PtrFromString("TetherAgentWindow")
		title, _ := windows.UTF16PtrFromString("Tether")
		var inst windows.Handle
		windows.GetModuleHandleEx(0, nil, &inst)
		wc := wndClassEx{wndProc: endSession.wndProc, instance: inst, className: class}
		wc.size = uint32(unsafe.Sizeof(wc))
		procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))) // fails harmlessly when registered before
		hwnd, _, err := procCreateWindowExW.Call(0, uintptr(unsafe.Pointer(class)), uintptr(unsafe.Pointer(title)),
			0, 0, 0, 0, 0, 0, 0, uintptr(inst), 0)
		hwndc <- windows.Handle(hwnd)
		if hwnd == 0 {
			log.Warn("no window for logoff and taskkill: they will end Tether without a clean stop", "err", err)
			return
		}
		var m msg
		for {
			r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
			if int32(r) <= 0 {
				return
			}
			procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
			procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
		}
	}()
	hwnd := <-hwndc
	return func() {
		close(stopped)
		endSession.mu.Lock()
		endSession.stop, endSession.stopped = nil, nil
		endSession.mu.Unlock()
		if hwnd != 0 {
			procPostMessageW.Call(uintptr(hwnd), wmQuitQuietly, 0, 0)
		}
	}
}
