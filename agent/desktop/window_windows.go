package desktop

import (
	"context"
	"syscall"
	"unsafe"
)

var (
	getForegroundWindow = user32.NewProc("GetForegroundWindow")
	getWindowTextW      = user32.NewProc("GetWindowTextW")
)

// ActiveWindowTitle returns the title of the foreground window ("" when
// none has the focus).
func (d *Desktop) ActiveWindowTitle(context.Context) (string, error) {
	hwnd, _, _ := getForegroundWindow.Call()
	if hwnd == 0 {
		return "", nil
	}
	buf := make([]uint16, 512)
	n, _, _ := getWindowTextW.Call(hwnd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	return syscall.UTF16ToString(buf[:n]), nil
}
