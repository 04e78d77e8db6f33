package installer

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

// RunWindowsService runs run as the body of the unattended service when
// the service control manager started this process, and answers the
// manager's stop and shutdown requests by cancelling run's context. It
// reports handled false, having run nothing, when the process was not
// started as a service (then RunUnattended applies).
//
// It asks the manager itself instead of trusting kardianos/service's guess
// (a parent named services.exe in session 0), which is wrong where the
// manager runs in another session, as under Wine. It blocks until run
// returns.
func RunWindowsService(ctx context.Context, run func(context.Context) error) (handled bool, err error) {
	h := &serviceHandler{parent: ctx, run: run}
	err = svc.Run(UnattendedName, h)
	if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) && !h.started {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("unattended service: %w", err)
	}
	return true, h.err
}

type serviceHandler struct {
	parent  context.Context
	run     func(context.Context) error
	started bool
	err     error
}

// Execute is called by svc.Run on its own goroutine; it returns when the
// service has stopped.
func (h *serviceHandler) Execute(_ []string, reqs <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	h.started = true
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(h.parent)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }() // owned here: waited for below
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			h.err = err
			if err != nil {
				return false, 1 // a failure: the manager's recovery settings may restart it
			}
			return false, 0
		case r := <-reqs:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				h.err = <-done
				return false, 0
			}
		}
	}
}
