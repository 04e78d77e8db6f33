package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	ksvc "github.com/kardianos/service"
	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/control"
	"github.com/tether-desktop/tether/installer"
)

// installerConfig describes this binary and its flags to the installer.
func (c *cli) installerConfig() installer.Config {
	exe, err := os.Executable()
	if err != nil {
		exe = "tether"
	}
	cfg := installer.Config{Exe: exe, Relay: agent.NormalizeRelay(c.relay)}
	if c.configDir != defaultConfigDirNoEnv() {
		cfg.ConfigDir = c.configDir
	}
	if c.unattended {
		cfg.ConfigDir = c.configDir
	}
	return cfg
}

// defaultConfigDirNoEnv is the config directory without flags or environment.
func defaultConfigDirNoEnv() string {
	d, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "tether")
}

// service is what install, uninstall, start and stop act on: the per-user
// start at login, or with --unattended the headless system service. The
// subcommands choose it once, in (*cli).service, and print what it says.
type service interface {
	install() (string, error)
	uninstall() (string, error)
	start() (string, error)
	stop() (string, error)
}

// service returns the start at login of this user, or the system service
// with --unattended.
func (c *cli) service() (service, error) {
	if c.unattended {
		s, err := installer.Unattended(c.installerConfig())
		if err != nil {
			return nil, err
		}
		return systemService{s}, nil
	}
	in, err := installer.New(c.installerConfig())
	if err != nil {
		return nil, err
	}
	return userService{in: in, c: c}, nil
}

// serviceVerb is a subcommand of install, uninstall, start or stop: it
// takes no arguments and prints the service's answer.
func serviceVerb(act func(service) (string, error)) func(c *cli, ctx context.Context, args []string) error {
	return func(c *cli, ctx context.Context, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
		}
		svc, err := c.service()
		if err != nil {
			return err
		}
		msg, err := act(svc)
		if err != nil {
			return err
		}
		if msg != "" {
			fmt.Fprintln(c.stdout, msg)
		}
		return nil
	}
}

// install makes Tether start at login (or at boot with --unattended). A
// --relay given here is remembered in config.json for every later command,
// not only for the service.
func (c *cli) install(ctx context.Context, args []string) error {
	if c.relay != "" && len(args) == 0 {
		s, err := agent.LoadSettings(c.configDir)
		if err != nil {
			return err
		}
		s.Relay = agent.NormalizeRelay(c.relay)
		if err := agent.SaveSettings(c.configDir, s); err != nil {
			return err
		}
	}
	return serviceVerb(service.install)(c, ctx, args)
}

// systemService is the headless system service (kardianos/service).
type systemService struct{ s ksvc.Service }

func (u systemService) install() (string, error) {
	if err := u.s.Install(); err != nil && !strings.Contains(err.Error(), "already exists") {
		return "", fmt.Errorf("%w (the system service needs root or an administrator)", err)
	}
	if err := u.s.Start(); err != nil {
		return "", fmt.Errorf("installed, but it did not start: %w", err)
	}
	return fmt.Sprintf("Installed and started the system service %s (%s).", installer.UnattendedName, u.s.Platform()), nil
}

func (u systemService) uninstall() (string, error) {
	u.s.Stop()
	if err := u.s.Uninstall(); err != nil {
		return "", fmt.Errorf("%w (the system service needs root or an administrator)", err)
	}
	return fmt.Sprintf("Removed the system service %s.", installer.UnattendedName), nil
}

func (u systemService) start() (string, error) { return "", u.s.Start() }
func (u systemService) stop() (string, error)  { return "", u.s.Stop() }

// userService is this user's start at login; where no service manager runs
// (XDG autostart, the Windows Run key), start and stop act on the process.
type userService struct {
	in *installer.Installer
	c  *cli
}

func (u userService) install() (string, error) {
	if err := u.in.Install(); err != nil {
		return "", err
	}
	switch u.in.Target() {
	case installer.XDGAutostart:
		return fmt.Sprintf("No systemd user session here: installed an autostart entry instead.\nTether will start at your next login (%s); \"tether start\" starts it now.", u.in.Path()), nil
	case installer.WindowsRun:
		return fmt.Sprintf("Tether will start when you log on (%s); \"tether start\" starts it now.", u.in.Path()), nil
	default:
		return fmt.Sprintf("Installed %s: Tether starts now and at every login.", u.in.Path()), nil
	}
}

func (u userService) uninstall() (string, error) {
	if err := u.in.Uninstall(); err != nil {
		return "", err
	}
	return "Tether no longer starts at login. Your settings and pairings are kept; \"tether unpair-all\" revokes the browsers.", nil
}

func (u userService) start() (string, error) {
	if ok, _ := u.in.Installed(); !ok {
		return "", errors.New(`not installed: run "tether install" first`)
	}
	err := u.in.Start()
	if !errors.Is(err, installer.ErrNoManager) {
		if err != nil {
			return "", err
		}
		return "Started Tether.", nil
	}
	if _, running := u.c.runningAgent(); running {
		return "Tether is already running.", nil
	}
	cfg := u.c.installerConfig()
	pid, err := installer.StartDetached(cfg.Exe, cfg.Args()...)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Started Tether (process %d).", pid), nil
}

// stopTimeout bounds how long tether stop waits for the agent to finish.
const stopTimeout = 30 * time.Second

func (u userService) stop() (string, error) {
	err := u.in.Stop()
	if !errors.Is(err, installer.ErrNoManager) {
		if err != nil {
			return "", err
		}
		return "Stopped Tether.", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	pid, err := control.Stop(ctx, u.c.configDir)
	if err == nil {
		return fmt.Sprintf("Stopped Tether (process %d).", pid), nil
	}
	if !errors.Is(err, control.ErrNotRunning) {
		return "", fmt.Errorf("stop: %w", err)
	}
	// Nothing answers on the control channel: an agent without one (too old,
	// or it could not open it) may still run under the pid status.json names.
	st, running := u.c.runningAgent()
	if !running {
		return "Tether is not running.", nil
	}
	if err := installer.StopProcess(st.PID); errors.Is(err, installer.ErrNotRunning) {
		return "Tether is not running.", nil
	} else if err != nil {
		return "", err
	}
	return fmt.Sprintf("Stopped Tether (process %d).", st.PID), nil
}
