package desktop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/tether-desktop/tether/protocol"
)

// TestCOMThreadOutlivesCalls checks that the OS thread COM calls run on
// never ends. An ended thread takes with it the overlapped I/O other
// goroutines started on it before (under Wine 8 the agent's socket read,
// so its link to the relay dropped during a volume command). Each call
// opens a handle to its thread; the handle is signalled when the thread
// ends, which the old thread-per-call code did within milliseconds of
// answering. It runs on Windows and under Wine (no sound device needed).
func TestCOMThreadOutlivesCalls(t *testing.T) {
	const calls = 5
	var threads []windows.Handle
	t.Cleanup(func() {
		for _, h := range threads {
			windows.CloseHandle(h)
		}
	})
	ids := map[uint32]bool{}
	for i := range calls {
		err := inCOM(t.Context(), func() error {
			id := windows.GetCurrentThreadId()
			h, err := windows.OpenThread(windows.SYNCHRONIZE, false, id)
			if err != nil {
				return err
			}
			threads = append(threads, h)
			ids[id] = true
			return nil
		})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if len(ids) != 1 {
		t.Errorf("%d calls ran on %d threads, want one COM thread", calls, len(ids))
	}
	// Bounded wait for any of them to end: an exiting thread is signalled
	// at once; the COM thread never is.
	ev, err := windows.WaitForMultipleObjects(threads, false, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if ev != uint32(windows.WAIT_TIMEOUT) {
		t.Fatalf("the thread of call %d ended after the call", ev-windows.WAIT_OBJECT_0+1)
	}
}

// TestCOMCallFailuresAnswer checks that a COM call that panics, or that
// does not finish before its context ends, comes back as an unavailable
// error, and that the COM thread then serves the next call.
func TestCOMCallFailuresAnswer(t *testing.T) {
	err := inCOM(t.Context(), func() error {
		var o *comObject
		return fmt.Errorf("unreachable: %x", o.vtbl[0]) // a nil dereference inside the call
	})
	if perr := (*protocol.Error)(nil); !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable || !strings.Contains(perr.Message, "COM call failed") {
		t.Errorf("panicking call: %v, want unavailable", err)
	}
	if err := (*comObject)(nil).call(3); !errors.Is(err, errNoObject) {
		t.Errorf("call through nil: %v", err)
	}

	release := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	go func() { <-started; cancel() }()
	err = inCOM(ctx, func() error { close(started); <-release; return nil })
	if perr := (*protocol.Error)(nil); !errors.As(err, &perr) || perr.Code != protocol.CodeUnavailable || !strings.Contains(perr.Message, "did not answer") {
		t.Errorf("stuck call: %v, want unavailable", err)
	}
	close(release)
	if err := inCOM(t.Context(), func() error { return nil }); err != nil {
		t.Errorf("call after a stuck one: %v", err)
	}
}
