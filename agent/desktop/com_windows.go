package desktop

// A minimal COM client: enough to create an object by CLSID and call the
// methods of its interfaces through their vtables, with no dependency
// beyond golang.org/x/sys/windows.

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	ole32            = windows.NewLazySystemDLL("ole32.dll")
	coCreateInstance = ole32.NewProc("CoCreateInstance")
)

// comObject is a COM interface pointer as COM lays it out: a pointer to
// the interface's table of methods. Methods are called by their index in
// that table (0–2 are IUnknown's QueryInterface, AddRef, Release).
type comObject struct {
	vtbl *[64]uintptr // long enough for the interfaces used here
}

// call calls method number i of o with args after o itself and returns
// the HRESULT as an error (nil for S_OK and S_FALSE).
func (o *comObject) call(i int, args ...uintptr) error {
	r, _, _ := syscall.SyscallN(o.vtbl[i], append([]uintptr{uintptr(unsafe.Pointer(o))}, args...)...)
	return hresult(r)
}

// release calls IUnknown::Release.
func (o *comObject) release() {
	if o != nil {
		syscall.SyscallN(o.vtbl[2], uintptr(unsafe.Pointer(o)))
	}
}

// hresult turns an HRESULT into an error: nil when it succeeded.
func hresult(r uintptr) error {
	if int32(r) >= 0 {
		return nil
	}
	return hresultError(uint32(r))
}

// hresultError is a failed HRESULT; Error gives Windows' text when it has one.
type hresultError uint32

func (e hresultError) Error() string {
	return fmt.Sprintf("HRESULT 0x%08X (%s)", uint32(e), syscall.Errno(e).Error())
}

// Well-known HRESULTs.
const (
	hrNotFound = hresultError(0x80070490) // HRESULT_FROM_WIN32(ERROR_NOT_FOUND): no such device
	hrNotImpl  = hresultError(0x80004001) // E_NOTIMPL
)

// createInstance creates the COM object clsid and returns its interface iid.
func createInstance(clsid, iid *windows.GUID) (*comObject, error) {
	var obj *comObject
	r, _, _ := coCreateInstance.Call(uintptr(unsafe.Pointer(clsid)), 0, clsctxAll,
		uintptr(unsafe.Pointer(iid)), uintptr(unsafe.Pointer(&obj)))
	if err := hresult(r); err != nil {
		return nil, err
	}
	return obj, nil
}

// inCOM runs fn on an OS thread of its own on which COM is initialised
// (multithreaded apartment), and waits for it. The thread ends with fn, so
// no COM state outlives the call and no other goroutine's thread is touched.
func inCOM(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()                                                                                     // never unlocked: the thread exits with this goroutine
		if err := windows.CoInitializeEx(0, windows.COINIT_MULTITHREADED); err != nil && err != syscall.Errno(1) { // 1 is S_FALSE
			done <- fmt.Errorf("CoInitializeEx: %w", err)
			return
		}
		defer windows.CoUninitialize()
		done <- fn()
	}()
	return <-done
}

// mustGUID parses a GUID written in the source.
func mustGUID(s string) windows.GUID {
	g, err := windows.GUIDFromString(s)
	if err != nil {
		panic(err)
	}
	return g
}
