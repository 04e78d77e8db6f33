package desktop

// A minimal COM client: enough to create an object by CLSID and call the
// methods of its interfaces through their vtables, with no dependency
// beyond golang.org/x/sys/windows.

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

	"github.com/tether-desktop/tether/protocol"
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
	if o == nil || o.vtbl == nil {
		return errNoObject
	}
	r, _, _ := syscall.SyscallN(o.vtbl[i], append([]uintptr{uintptr(unsafe.Pointer(o))}, args...)...)
	return hresult(r)
}

// errNoObject is the error of a call through a nil interface pointer, which
// would otherwise fault outside Go, where no recover reaches.
var errNoObject = errors.New("COM: call through a nil interface pointer")

// release calls IUnknown::Release.
func (o *comObject) release() {
	if o != nil && o.vtbl != nil {
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

// comCallMax bounds the wait for the COM thread when the caller's context
// has no deadline of its own.
const comCallMax = 10 * time.Second

// comJob is one call for the COM thread: fn, run unless ctx has ended by
// the time the thread takes it, its error sent on done (buffered: the
// thread never waits for a caller that gave up).
type comJob struct {
	ctx  context.Context
	fn   func() error
	done chan error
}

// comThread is the agent's one COM thread. It is started on first use and
// never ends, nor is it ever shared with other goroutines.
//
// It must not end: the Go runtime ends the OS thread of a goroutine that
// exits while locked to it, and that thread may earlier have run other
// goroutines and started overlapped I/O on their behalf (Go issues a
// socket's WSARecv on whichever thread the reading goroutine runs on, then
// parks it). Wine 8 loses such a read when its thread ends: the completion
// port reports it done while its status still says pending, Go's read
// fails with ERROR_IO_INCOMPLETE ("Overlapped I/O incomplete") and the
// agent's link to the relay drops. A COM thread per call (CoInitializeEx,
// work, exit) did exactly that, one volume command in a few.
var comThread struct {
	once sync.Once
	jobs chan comJob
}

// inCOM runs fn on the COM thread (initialised once as a multithreaded
// apartment) and waits for it, at most until ctx ends (or comCallMax when
// ctx has no deadline). COM objects fn creates must be released inside fn:
// none outlives the call. Calls are serialised. A panic in fn, or COM that
// cannot be initialised, comes back as an unavailable error; a call that
// does not finish in time is answered unavailable while the thread goes on.
func inCOM(ctx context.Context, fn func() error) error {
	comThread.once.Do(func() {
		comThread.jobs = make(chan comJob)
		go comLoop(comThread.jobs)
	})
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, comCallMax)
		defer cancel()
	}
	job := comJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case comThread.jobs <- job:
	case <-ctx.Done():
		return protocol.Errorf(protocol.CodeUnavailable, "COM is still busy with an earlier call (%v)", ctx.Err())
	}
	select {
	case err := <-job.done:
		return err
	case <-ctx.Done():
		return protocol.Errorf(protocol.CodeUnavailable, "COM did not answer in time (%v)", ctx.Err())
	}
}

// comLoop is the COM thread: it locks itself to its OS thread for good,
// joins the multithreaded apartment and runs jobs one at a time.
func comLoop(jobs <-chan comJob) {
	runtime.LockOSThread() // never unlocked, and this goroutine never returns: see comThread
	var initErr error
	if err := windows.CoInitializeEx(0, windows.COINIT_MULTITHREADED); err != nil && err != syscall.Errno(1) { // 1 is S_FALSE
		initErr = protocol.Errorf(protocol.CodeUnavailable, "COM: CoInitializeEx: %v", err)
	}
	for job := range jobs {
		switch {
		case initErr != nil:
			job.done <- initErr
		case job.ctx.Err() != nil: // the caller gave up while it waited
			job.done <- job.ctx.Err()
		default:
			job.done <- runCOMJob(job.fn)
		}
	}
}

// runCOMJob runs fn, turning a panic into an unavailable error.
func runCOMJob(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = protocol.Errorf(protocol.CodeUnavailable, "COM call failed: %v", r)
		}
	}()
	return fn()
}

// mustGUID parses a GUID written in the source.
func mustGUID(s string) windows.GUID {
	g, err := windows.GUIDFromString(s)
	if err != nil {
		panic(err)
	}
	return g
}
