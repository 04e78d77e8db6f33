package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/tether-desktop/tether/agent/desktop"
)

var (
	user32              = windows.NewLazySystemDLL("user32.dll")
	kernel32            = windows.NewLazySystemDLL("kernel32.dll")
	openClipboard       = user32.NewProc("OpenClipboard")
	closeClipboard      = user32.NewProc("CloseClipboard")
	createWindowEx      = user32.NewProc("CreateWindowExW")
	setWindowsHookEx    = user32.NewProc("SetWindowsHookExW")
	unhookWindowsHookEx = user32.NewProc("UnhookWindowsHookEx")
	callNextHookEx      = user32.NewProc("CallNextHookEx")
	getMessage          = user32.NewProc("GetMessageW")
	postThreadMessage   = user32.NewProc("PostThreadMessageW")
	getModuleHandle     = kernel32.NewProc("GetModuleHandleW")
	getCurrentThreadID  = kernel32.NewProc("GetCurrentThreadId")
)

// openClipboardNow opens the clipboard for a window of a locked thread (as
// programs do; Wine lets two threads open it for no window at once) and
// returns the function that closes it there.
func openClipboardNow() (func(), error) {
	opened := make(chan error)
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		class, _ := windows.UTF16PtrFromString("STATIC")
		hwnd, _, err := createWindowEx.Call(0, uintptr(unsafe.Pointer(class)), 0, 0, 0, 0, 0, 0, ^uintptr(2), 0, 0, 0)
		if hwnd == 0 {
			opened <- fmt.Errorf("CreateWindowEx: %v", err)
			return
		}
		if r, _, err := openClipboard.Call(hwnd); r == 0 {
			opened <- fmt.Errorf("OpenClipboard: %v", err)
			return
		}
		opened <- nil
		<-release
		closeClipboard.Call()
	}()
	if err := <-opened; err != nil {
		return nil, err
	}
	return func() { close(release); <-done }, nil
}

const wmUser = 0x0400 // WM_USER

// kbdll is KBDLLHOOKSTRUCT.
type kbdll struct {
	vk, scan, flags, time uint32
	extra                 uintptr
}

// mediaHooked installs a low-level keyboard hook, runs d.Media(action) and
// returns the keys the hook saw ("down B0", "up B0") once a key-up came.
func mediaHooked(d *desktop.Desktop, action string) (string, []string, error) {
	var mu sync.Mutex
	var keys []string
	sawUp := make(chan struct{}, 1)
	ready := make(chan uint32)
	cb := syscall.NewCallback(func(code int, wparam, lparam uintptr) uintptr {
		if code == 0 {
			k := *(**kbdll)(unsafe.Pointer(&lparam))
			dir := "down"
			if wparam == 0x0101 || wparam == 0x0105 { // WM_KEYUP, WM_SYSKEYUP
				dir = "up"
			}
			mu.Lock()
			keys = append(keys, fmt.Sprintf("%s %02X", dir, k.vk))
			mu.Unlock()
			if dir == "up" {
				select {
				case sawUp <- struct{}{}:
				default:
				}
			}
		}
		r, _, _ := callNextHookEx.Call(0, uintptr(code), wparam, lparam)
		return r
	})
	hookErr := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		mod, _, _ := getModuleHandle.Call(0)
		h, _, err := setWindowsHookEx.Call(13, cb, mod, 0) // WH_KEYBOARD_LL
		if h == 0 {
			hookErr <- fmt.Errorf("SetWindowsHookEx: %v", err)
			close(ready)
			return
		}
		defer unhookWindowsHookEx.Call(h)
		// The hook is called through this thread's message loop: say ready
		// only once the loop runs (it gets the message posted here).
		tid, _, _ := getCurrentThreadID.Call()
		postThreadMessage.Call(tid, wmUser, 0, 0)
		var msg struct {
			hwnd    uintptr
			message uint32
			_       [40]byte
		}
		for {
			if r, _, _ := getMessage.Call(uintptr(unsafe.Pointer(&msg)), 0, 0, 0); r == 0 || int32(r) == -1 {
				return
			}
			if msg.message == wmUser {
				ready <- uint32(tid)
			}
		}
	}()
	tid, ok := <-ready
	if !ok {
		return "", nil, <-hookErr
	}
	defer postThreadMessage.Call(uintptr(tid), 0x0012, 0, 0) // WM_QUIT
	method, err := d.Media(context.Background(), action)
	if err != nil {
		return method, nil, err
	}
	select {
	case <-sawUp:
	case <-time.After(20 * time.Second): // hang guard
		return method, nil, errors.New("the hook saw no key-up within 20 s")
	}
	mu.Lock()
	defer mu.Unlock()
	return method, append([]string(nil), keys...), nil
}
