package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// attachParentProcess is AttachConsole's ATTACH_PARENT_PROCESS.
const attachParentProcess = ^uintptr(0)

var procAttachConsole = windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")

// attachConsole gives the GUI-subsystem tether.exe (scripts/package builds
// it so, for no console window at login) the console of the cmd or
// PowerShell it was started from, so `tether pair` prints its code there.
// Output that already goes somewhere (redirected, or the console build)
// is left alone; started from Explorer or at login there is no parent
// console, and nothing changes.
func attachConsole() {
	if h, err := windows.GetStdHandle(windows.STD_OUTPUT_HANDLE); err == nil && h != 0 && h != windows.InvalidHandle {
		return
	}
	// ERROR_ACCESS_DENIED: already attached to a console (Wine attaches a
	// GUI program to its parent's), whose output handles were not passed.
	if r, _, err := procAttachConsole.Call(attachParentProcess); r == 0 && err != windows.ERROR_ACCESS_DENIED {
		return
	}
	// Read access too: Go then sees a console and writes UTF-16 to it.
	out, err := os.OpenFile("CONOUT$", os.O_RDWR, 0)
	if err != nil {
		return
	}
	windows.SetStdHandle(windows.STD_OUTPUT_HANDLE, windows.Handle(out.Fd()))
	windows.SetStdHandle(windows.STD_ERROR_HANDLE, windows.Handle(out.Fd()))
	os.Stdout, os.Stderr = out, out
}
