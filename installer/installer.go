// Package installer makes Tether start with the user's session, and removes
// that again. The normal install is per user, because the tray, the pointer
// and the sound live in the user's session:
//
//   - Linux: a systemd user unit (~/.config/systemd/user/tether.service),
//     wanted by graphical-session.target so that it gets DISPLAY and the
//     session bus; where no systemd user manager answers, an XDG autostart
//     entry (~/.config/autostart/tether.desktop) instead.
//   - macOS: a LaunchAgent (~/Library/LaunchAgents/com.tether.agent.plist),
//     run at login and restarted when it fails.
//   - Windows: a value "Tether" under HKCU\Software\Microsoft\Windows\
//     CurrentVersion\Run, so the full agent starts in the user's session at
//     logon. A Windows service runs in session 0, which has no tray, pointer
//     or sound: Unattended installs such a service (through
//     kardianos/service), headless, for computers nobody logs in to.
//
// The files are rendered by pure functions (SystemdUnit, DesktopEntry,
// LaunchAgentPlist, WindowsRunReg) that tests compare with golden files;
// the service managers are run through Config.Run, which tests replace.
// An Installer is not safe for concurrent use; its methods block while the
// service manager runs.
package installer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Target is a way of starting at login.
type Target string

// The targets.
const (
	SystemdUser  Target = "systemd-user"  // Linux with a systemd user manager
	XDGAutostart Target = "xdg-autostart" // other Linux and BSD desktops
	LaunchAgent  Target = "launchagent"   // macOS
	WindowsRun   Target = "windows-run"   // Windows, per-user start at logon
)

// Names the installed files and services use.
const (
	UnitName    = "tether.service"
	DesktopName = "tether.desktop"
	AgentLabel  = "com.tether.agent"
	RunValue    = "Tether"
	RunKey      = `HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run`
)

// ErrUnsupported means the target cannot be installed on this OS.
var ErrUnsupported = errors.New("installer: not supported on this OS")

// Config says what to install where. Exe is required; every other zero value
// means the default beside it.
type Config struct {
	// Exe is the absolute path of the tether binary to start.
	Exe string
	// Relay, when set, is passed as --relay.
	Relay string
	// ConfigDir, when set, is passed as --config-dir.
	ConfigDir string
	// Home is the user's home directory. Default os.UserHomeDir.
	Home string
	// XDGConfigHome is the user's config directory on Linux. Default
	// $XDG_CONFIG_HOME, else Home/.config.
	XDGConfigHome string
	// Target is how to start at login. Default DefaultTarget.
	Target Target
	// UID is the user id for launchctl. Default os.Getuid.
	UID int
	// Run runs a service manager command (systemctl, launchctl) and returns
	// its error with its output. Default: exec.
	Run func(name string, args ...string) error
}

// Args are the arguments the installed entry passes to Exe.
func (c Config) Args() []string {
	args := []string{"run"}
	if c.Relay != "" {
		args = append(args, "--relay", c.Relay)
	}
	if c.ConfigDir != "" {
		args = append(args, "--config-dir", c.ConfigDir)
	}
	return args
}

func execRun(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}

// DefaultTarget is the per-user target of this OS. On Linux it asks the
// systemd user manager whether it runs (through run), and falls back to an
// XDG autostart entry.
func DefaultTarget(run func(string, ...string) error) Target {
	switch runtime.GOOS {
	case "darwin":
		return LaunchAgent
	case "windows":
		return WindowsRun
	}
	if run == nil {
		run = execRun
	}
	if run("systemctl", "--user", "show-environment") == nil {
		return SystemdUser
	}
	return XDGAutostart
}

// Installer installs, removes, starts and stops one target.
type Installer struct {
	cfg Config
}

// New fills in cfg's defaults. It runs the service manager only to pick a
// default target.
func New(cfg Config) (*Installer, error) {
	if cfg.Exe == "" {
		return nil, errors.New("installer: Config.Exe is required")
	}
	if !filepath.IsAbs(cfg.Exe) {
		return nil, fmt.Errorf("installer: the executable path %q is not absolute", cfg.Exe)
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.Home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("installer: no home directory: %w", err)
		}
		cfg.Home = h
	}
	if cfg.XDGConfigHome == "" {
		cfg.XDGConfigHome = os.Getenv("XDG_CONFIG_HOME")
		if cfg.XDGConfigHome == "" || !filepath.IsAbs(cfg.XDGConfigHome) {
			cfg.XDGConfigHome = filepath.Join(cfg.Home, ".config")
		}
	}
	if cfg.Run == nil {
		cfg.Run = execRun
	}
	if cfg.UID == 0 {
		cfg.UID = os.Getuid()
	}
	if cfg.Target == "" {
		cfg.Target = DefaultTarget(cfg.Run)
	}
	return &Installer{cfg: cfg}, nil
}

// Target is the target this installer works on.
func (i *Installer) Target() Target { return i.cfg.Target }

// Path is the file the installer writes (for WindowsRun: the registry key).
func (i *Installer) Path() string {
	switch i.cfg.Target {
	case SystemdUser:
		return filepath.Join(i.cfg.XDGConfigHome, "systemd", "user", UnitName)
	case XDGAutostart:
		return filepath.Join(i.cfg.XDGConfigHome, "autostart", DesktopName)
	case LaunchAgent:
		return filepath.Join(i.cfg.Home, "Library", "LaunchAgents", AgentLabel+".plist")
	case WindowsRun:
		return RunKey + `\` + RunValue
	}
	return ""
}

// content is what the installer writes at Path.
func (i *Installer) content() (string, error) {
	switch i.cfg.Target {
	case SystemdUser:
		return SystemdUnit(i.cfg), nil
	case XDGAutostart:
		return DesktopEntry(i.cfg), nil
	case LaunchAgent:
		return LaunchAgentPlist(i.cfg), nil
	}
	return "", fmt.Errorf("installer: unknown target %q", i.cfg.Target)
}

// Installed reports whether the entry is in place.
func (i *Installer) Installed() (bool, error) {
	if i.cfg.Target == WindowsRun {
		v, err := readRunValue()
		return v != "", err
	}
	_, err := os.Stat(i.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Install writes the entry and tells the service manager, so that Tether
// starts now (systemd, launchd) or at the next login (XDG, Windows).
// Installing again rewrites the entry: it is idempotent.
func (i *Installer) Install() error {
	if i.cfg.Target == WindowsRun {
		return writeRunValue(WindowsRunCommand(i.cfg))
	}
	text, err := i.content()
	if err != nil {
		return err
	}
	path := i.Path()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.WriteFile(path+".tmp", []byte(text), 0o644); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		os.Remove(path + ".tmp")
		return fmt.Errorf("install: %w", err)
	}
	switch i.cfg.Target {
	case SystemdUser:
		if err := i.cfg.Run("systemctl", "--user", "daemon-reload"); err != nil {
			return fmt.Errorf("install: the systemd user manager: %w", err)
		}
		if err := i.cfg.Run("systemctl", "--user", "enable", "--now", UnitName); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	case LaunchAgent:
		// Unload an older copy first; a missing one is fine.
		i.cfg.Run("launchctl", "bootout", i.domain()+"/"+AgentLabel)
		if err := i.cfg.Run("launchctl", "bootstrap", i.domain(), path); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	return nil
}

// Uninstall stops Tether's entry from starting and removes it, together with
// the directories the installer created that are now empty. Uninstalling
// what is not installed is not an error.
func (i *Installer) Uninstall() error {
	if i.cfg.Target == WindowsRun {
		return deleteRunValue()
	}
	path := i.Path()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	switch i.cfg.Target {
	case SystemdUser:
		if err := i.cfg.Run("systemctl", "--user", "disable", "--now", UnitName); err != nil {
			return fmt.Errorf("uninstall: %w", err)
		}
	case LaunchAgent:
		i.cfg.Run("launchctl", "bootout", i.domain()+"/"+AgentLabel) // not loaded is fine
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("uninstall: %w", err)
	}
	if i.cfg.Target == SystemdUser {
		i.cfg.Run("systemctl", "--user", "daemon-reload")
	}
	// Remove the directories Install created, if empty, up to the base.
	base := i.cfg.XDGConfigHome
	if i.cfg.Target == LaunchAgent {
		base = i.cfg.Home
	}
	for d := filepath.Dir(path); d != base && strings.HasPrefix(d, base); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

func (i *Installer) domain() string { return fmt.Sprintf("gui/%d", i.cfg.UID) }

// Start starts Tether through the service manager. For targets without one
// (XDG autostart, Windows) it returns ErrNoManager: the caller starts the
// binary itself.
func (i *Installer) Start() error {
	switch i.cfg.Target {
	case SystemdUser:
		return i.cfg.Run("systemctl", "--user", "start", UnitName)
	case LaunchAgent:
		return i.cfg.Run("launchctl", "kickstart", i.domain()+"/"+AgentLabel)
	}
	return ErrNoManager
}

// Stop stops Tether through the service manager, or returns ErrNoManager.
func (i *Installer) Stop() error {
	switch i.cfg.Target {
	case SystemdUser:
		return i.cfg.Run("systemctl", "--user", "stop", UnitName)
	case LaunchAgent:
		// SIGTERM ends the agent cleanly; KeepAlive restarts only failures.
		return i.cfg.Run("launchctl", "kill", "SIGTERM", i.domain()+"/"+AgentLabel)
	}
	return ErrNoManager
}

// ErrNoManager means the target has no service manager to start or stop
// Tether: the caller does it.
var ErrNoManager = errors.New("installer: no service manager for this target")
