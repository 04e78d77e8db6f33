package installer

import (
	"context"
	"fmt"
	"sync"

	"github.com/kardianos/service"
)

// UnattendedName is the name of the system service installed by Unattended.
const UnattendedName = "tether-unattended"

// UnattendedConfig is the kardianos/service description of the headless
// system service: `tether run --no-tray --unattended`, started at boot,
// restarted on failure, with telemetry and commands that need no session.
func UnattendedConfig(c Config) *service.Config {
	args := append(c.Args(), "--no-tray", "--unattended")
	return &service.Config{
		Name:        UnattendedName,
		DisplayName: "Tether agent (unattended)",
		Description: "Keeps this computer connected to its Tether relay without a user session: telemetry only.",
		Executable:  c.Exe,
		Arguments:   args,
		Option: service.KeyValue{
			"Restart":                "on-failure",
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "5s",
			"StartType":              "automatic",
		},
	}
}

// Unattended returns the system service (which needs root or an
// administrator to install). Its Install, Uninstall, Start, Stop and Status
// run the OS's service manager and block while it works.
func Unattended(c Config) (service.Service, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	s, err := service.New(noProgram{}, UnattendedConfig(c))
	if err != nil {
		return nil, fmt.Errorf("unattended service: %w", err)
	}
	return s, nil
}

// noProgram lets a service be installed and controlled from outside it.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

// RunUnattended runs run as the body of the unattended service: the service
// manager's stop request (or ctx) cancels run's context. On Windows this is
// what answers the service control manager. It blocks until run returns.
func RunUnattended(ctx context.Context, c Config, run func(context.Context) error) error {
	p := &program{run: run, parent: ctx}
	s, err := service.New(p, UnattendedConfig(c))
	if err != nil {
		return fmt.Errorf("unattended service: %w", err)
	}
	if err := s.Run(); err != nil {
		return fmt.Errorf("unattended service: %w", err)
	}
	return p.err
}

type program struct {
	run    func(context.Context) error
	parent context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error
}

func (p *program) Start(s service.Service) error {
	ctx, cancel := context.WithCancel(p.parent)
	p.cancel = cancel
	p.wg.Go(func() {
		p.err = p.run(ctx)
		if !service.Interactive() && ctx.Err() == nil {
			// The agent ended by itself: let the manager restart us.
			s.Stop()
		}
	})
	return nil
}

func (p *program) Stop(service.Service) error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	return nil
}
