package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/desktop"
	"github.com/tether-desktop/tether/installer"
	"github.com/tether-desktop/tether/tray"
)

// errUsage marks a mistake in the command line: exit code 2 instead of 1.
var errUsage = errors.New("usage")

// cli is one invocation: its output streams and its flags.
type cli struct {
	stdout, stderr io.Writer

	configDir   string
	relay       string // the --relay flag or TETHER_RELAY; empty: agent.ResolveRelay decides
	enrollToken string
	caFile      string // the --ca-file flag or TETHER_CA_FILE; empty: the one in config.json

	// http and dialer reach the relay (nil: the defaults); set from the CA file.
	http   *http.Client
	dialer *websocket.Dialer

	json       bool
	noTray     bool
	name       string
	verbose    bool
	unattended bool // run/install: the headless system service
	autostart  bool // run: started by the packaged XDG autostart entry
}

// command is one `tether <name>`.
type command struct {
	name, args, summary string
	flags               func(fs *flag.FlagSet, c *cli)
	run                 func(c *cli, ctx context.Context, args []string) error
}

func commandList() []command {
	return []command{
		{"run", "[--no-tray] [--name N] [--verbose]", "run the agent in the foreground, with a tray icon when there is a desktop",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.noTray, "no-tray", false, "run without a tray icon (headless)")
				fs.StringVar(&c.name, "name", "", "the name browsers see (default: config.json's name, else the host name)")
				fs.BoolVar(&c.verbose, "verbose", false, "log debug messages")
				fs.BoolVar(&c.unattended, "unattended", false, "run as the unattended system service (set by install --unattended)")
				fs.BoolVar(&c.autostart, "autostart", false, "started by the desktop's autostart: do nothing unless this user set Tether up")
			}, (*cli).runAgent},
		{"pair", "[--json]", "get a pairing code, its link and a QR code for a browser",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.json, "json", false, `print only {"code","url","expires_at"}`)
			}, (*cli).pair},
		{"unpair-all", "", "make the relay forget every browser paired with this computer", nil, (*cli).unpairAll},
		{"status", "[--json]", "relay, device id, connection state, allowed commands",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.json, "json", false, "print JSON")
			}, (*cli).status},
		{"allow", "NAME…", "switch commands on (the name mouse shares mouse activity; open_url_private lets open_url reach local addresses)", nil,
			func(c *cli, ctx context.Context, args []string) error { return c.setAllowed(args, true) }},
		{"deny", "NAME…", "switch commands off (the name mouse stops sharing mouse activity)", nil,
			func(c *cli, ctx context.Context, args []string) error { return c.setAllowed(args, false) }},
		{"install", "[--relay URL] [--unattended]", "start Tether at every login (--unattended: a headless system service)",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.unattended, "unattended", false, "install a system service that runs headless at boot (needs root or an administrator)")
			}, (*cli).install},
		{"uninstall", "[--unattended]", "stop starting Tether at login and remove what install added",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.unattended, "unattended", false, "remove the system service instead")
			}, (*cli).uninstall},
		{"start", "[--unattended]", "start the installed agent in the background",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.unattended, "unattended", false, "start the system service instead")
			}, (*cli).startService},
		{"stop", "[--unattended]", "stop the agent running in the background",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.unattended, "unattended", false, "stop the system service instead")
			}, (*cli).stopService},
		{"version", "", "print version, commit and build date", nil, (*cli).version},
		{"help", "", "show this help", nil, nil},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `tether keeps this computer connected to a Tether relay, so that paired
browsers can watch it and send it the commands you allow.

Usage: tether <command> [flags]

Commands:
`)
	for _, c := range commandList() {
		fmt.Fprintf(w, "  %-38s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprint(w, `
Flags for every command:
  --config-dir DIR       where credentials and settings live (env TETHER_CONFIG_DIR,
                         default: the user config directory + /tether)
  --relay URL            the relay (env TETHER_RELAY; default: the relay in config.json
                         or the stored credentials, else `+agent.DefaultRelay+`)
  --enroll-token TOKEN   token the relay demands to register (env TETHER_ENROLL_TOKEN)
  --ca-file FILE         PEM of a private CA that signed the relay's certificate (env
                         TETHER_CA_FILE; remembered in config.json once given)
`)
}

// run is the whole command line: it returns the exit code. SIGINT and
// SIGTERM cancel the running command.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

// runContext runs one command line until it is done or ctx ends, and
// returns the exit code: 0 done, 1 failed (one line on stderr), 2 misused.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	// Global flags may come before the command too.
	global := flag.NewFlagSet("tether", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.caFile = os.Getenv("TETHER_CA_FILE")
	c.globalFlags(global, defaultConfigDir(), os.Getenv("TETHER_RELAY"), os.Getenv("TETHER_ENROLL_TOKEN"))
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "tether: %v\n\n", err)
		usage(stderr)
		return 2
	}
	args = global.Args()
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name, args := args[0], args[1:]
	i := slices.IndexFunc(commandList(), func(cmd command) bool { return cmd.name == name })
	if i < 0 {
		fmt.Fprintf(stderr, "tether: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	cmd := commandList()[i]
	if cmd.run == nil { // help
		usage(stdout)
		return 0
	}
	fs := flag.NewFlagSet("tether "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: tether %s %s\n\n", name, cmd.args)
		fs.PrintDefaults()
	}
	c.globalFlags(fs, c.configDir, c.relay, c.enrollToken)
	if cmd.flags != nil {
		cmd.flags(fs, c)
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2 // the flag package has printed the error and usage
	}
	if c.configDir == "" {
		fmt.Fprintln(stderr, "tether: no config directory: set --config-dir or TETHER_CONFIG_DIR")
		return 1
	}
	if err := c.setupTLS(); err != nil {
		fmt.Fprintf(stderr, "tether %s: %v\n", name, err)
		return 1
	}
	if err := cmd.run(c, ctx, pos); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "tether %s: %v\n", name, err)
			fs.Usage()
			return 2
		}
		fmt.Fprintf(stderr, "tether %s: %v\n", name, err)
		return 1
	}
	return 0
}

func (c *cli) globalFlags(fs *flag.FlagSet, dir, relay, token string) {
	fs.StringVar(&c.configDir, "config-dir", dir, "directory of credentials and settings (env TETHER_CONFIG_DIR)")
	fs.StringVar(&c.relay, "relay", relay, "relay URL (env TETHER_RELAY)")
	fs.StringVar(&c.enrollToken, "enroll-token", token, "token the relay demands to register (env TETHER_ENROLL_TOKEN)")
	fs.StringVar(&c.caFile, "ca-file", c.caFile, "PEM of a private CA that signed the relay's certificate (env TETHER_CA_FILE)")
}

// setupTLS resolves the CA file (remembering a new one) and builds the
// clients that reach the relay with it.
func (c *cli) setupTLS() error {
	ca, err := agent.ResolveCAFile(c.configDir, c.caFile)
	if err != nil {
		return err
	}
	c.http, c.dialer, err = agent.Clients(ca)
	return err
}

// parseInterleaved parses flags that may stand before, between or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func defaultConfigDir() string {
	if d := os.Getenv("TETHER_CONFIG_DIR"); d != "" {
		return d
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "tether")
}

func (c *cli) relayURL() string { return agent.ResolveRelay(c.configDir, c.relay) }

// deviceName is the name used when this command has to register the device.
func (c *cli) deviceName() string {
	if s, err := agent.LoadSettings(c.configDir); err == nil && s.Name != "" {
		return s.Name
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "desktop"
}

func (c *cli) runAgent(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	if c.autostart && !c.autostartWanted() {
		return nil
	}
	level := slog.LevelInfo
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	if c.unattended {
		c.noTray = true
		return installer.RunUnattended(ctx, c.installerConfig(), func(ctx context.Context) error {
			return c.runHeadlessOrTray(ctx, log)
		})
	}
	return c.runHeadlessOrTray(ctx, log)
}

// runHeadlessOrTray runs the agent until ctx ends (or Quit in the tray): in
// another goroutine with the tray on this one when a desktop session is
// there, else on this goroutine.
func (c *cli) runHeadlessOrTray(ctx context.Context, log *slog.Logger) error {
	useTray := !c.noTray
	if useTray {
		if err := tray.SessionBusAvailable(); err != nil {
			log.Info("no tray icon; running headless", "reason", err)
			useTray = false
		}
	}
	desk := desktop.New(log)
	defer desk.Close()
	a, err := agent.New(agent.Config{
		RelayURL:    c.relay,
		ConfigDir:   c.configDir,
		Name:        c.name,
		EnrollToken: c.enrollToken,
		HTTPClient:  c.http,
		Dialer:      c.dialer,
		Version:     version,
		Logger:      log,
		Desktop:     desk,
	})
	if err != nil {
		return err
	}
	if !useTray {
		if err := a.Run(ctx); err != nil {
			return err
		}
		log.Info("agent stopped")
		return nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tc := tray.Config{Agent: a, Quit: cancel, Logger: log}
	if in, err := installer.New(c.installerConfig()); err == nil {
		tc.Autostart = in
	} else {
		log.Warn("Start at login is not available", "err", err)
	}
	ctrl, err := tray.NewController(tc)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }() // owned here: waited for below
	trayErr := tray.Run(ctx, ctrl)     // on this goroutine: macOS wants the main thread
	if trayErr != nil {
		log.Warn("tray stopped", "err", trayErr)
		if ctx.Err() == nil {
			<-ctx.Done() // keep running headless until asked to stop
		}
	}
	cancel()
	err = <-errc
	log.Info("agent stopped")
	return err
}

// autostartWanted reports whether the packaged autostart entry should start
// the agent: only for a user who set Tether up (a config directory with
// credentials or settings), and not when a systemd user unit of Tether is
// enabled (it starts the agent itself).
func (c *cli) autostartWanted() bool {
	_, errC := os.Stat(filepath.Join(c.configDir, agent.CredentialsFile))
	_, errS := os.Stat(filepath.Join(c.configDir, agent.SettingsFile))
	if errC != nil && errS != nil {
		return false
	}
	in, err := installer.New(installer.Config{Exe: "/usr/bin/tether", Target: installer.SystemdUser})
	if err != nil {
		return true
	}
	wants := filepath.Join(filepath.Dir(in.Path()), "graphical-session.target.wants", installer.UnitName)
	_, err = os.Lstat(wants)
	return err != nil
}

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

func (c *cli) install(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	if c.relay != "" {
		// Remember the relay for every later command, not only the service.
		s, err := agent.LoadSettings(c.configDir)
		if err != nil {
			return err
		}
		s.Relay = agent.NormalizeRelay(c.relay)
		if err := agent.SaveSettings(c.configDir, s); err != nil {
			return err
		}
	}
	if c.unattended {
		s, err := installer.Unattended(c.installerConfig())
		if err != nil {
			return err
		}
		if err := s.Install(); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("%w (the system service needs root or an administrator)", err)
		}
		if err := s.Start(); err != nil {
			return fmt.Errorf("installed, but it did not start: %w", err)
		}
		fmt.Fprintf(c.stdout, "Installed and started the system service %s (%s).\n", installer.UnattendedName, s.Platform())
		return nil
	}
	in, err := installer.New(c.installerConfig())
	if err != nil {
		return err
	}
	if err := in.Install(); err != nil {
		return err
	}
	switch in.Target() {
	case installer.XDGAutostart:
		fmt.Fprintf(c.stdout, "No systemd user session here: installed an autostart entry instead.\nTether will start at your next login (%s); \"tether start\" starts it now.\n", in.Path())
	case installer.WindowsRun:
		fmt.Fprintf(c.stdout, "Tether will start when you log on (%s); \"tether start\" starts it now.\n", in.Path())
	default:
		fmt.Fprintf(c.stdout, "Installed %s: Tether starts now and at every login.\n", in.Path())
	}
	return nil
}

func (c *cli) uninstall(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	if c.unattended {
		s, err := installer.Unattended(c.installerConfig())
		if err != nil {
			return err
		}
		s.Stop()
		if err := s.Uninstall(); err != nil {
			return fmt.Errorf("%w (the system service needs root or an administrator)", err)
		}
		fmt.Fprintf(c.stdout, "Removed the system service %s.\n", installer.UnattendedName)
		return nil
	}
	in, err := installer.New(c.installerConfig())
	if err != nil {
		return err
	}
	if err := in.Uninstall(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "Tether no longer starts at login. Your settings and pairings are kept; \"tether unpair-all\" revokes the browsers.")
	return nil
}

func (c *cli) startService(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	if c.unattended {
		s, err := installer.Unattended(c.installerConfig())
		if err != nil {
			return err
		}
		return s.Start()
	}
	in, err := installer.New(c.installerConfig())
	if err != nil {
		return err
	}
	if ok, _ := in.Installed(); !ok {
		return errors.New(`not installed: run "tether install" first`)
	}
	err = in.Start()
	if errors.Is(err, installer.ErrNoManager) {
		if _, running := c.runningAgent(); running {
			fmt.Fprintln(c.stdout, "Tether is already running.")
			return nil
		}
		cfg := c.installerConfig()
		pid, err := installer.StartDetached(cfg.Exe, cfg.Args()...)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Started Tether (process %d).\n", pid)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "Started Tether.")
	return nil
}

func (c *cli) stopService(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	if c.unattended {
		s, err := installer.Unattended(c.installerConfig())
		if err != nil {
			return err
		}
		return s.Stop()
	}
	in, err := installer.New(c.installerConfig())
	if err != nil {
		return err
	}
	err = in.Stop()
	if errors.Is(err, installer.ErrNoManager) {
		st, running := c.runningAgent()
		if !running {
			fmt.Fprintln(c.stdout, "Tether is not running.")
			return nil
		}
		if err := installer.StopProcess(st.PID); errors.Is(err, installer.ErrNotRunning) {
			fmt.Fprintln(c.stdout, "Tether is not running.")
			return nil
		} else if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Stopped Tether (process %d).\n", st.PID)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "Stopped Tether.")
	return nil
}

// runningAgent reads status.json and reports whether it says an agent runs now.
func (c *cli) runningAgent() (agent.Status, bool) {
	st, err := agent.ReadStatus(c.configDir)
	return st, err == nil && st.State != agent.StateStopped && time.Since(st.Updated) < staleAfter
}

// credentials returns this computer's credentials for the relay,
// registering first when there are none.
func (c *cli) credentials(ctx context.Context) (agent.Credentials, error) {
	creds, registered, err := agent.EnsureCredentials(ctx, c.http, c.configDir, c.relayURL(), c.enrollToken,
		agent.Device{Name: c.deviceName(), OS: runtime.GOOS})
	if err != nil {
		if agent.IsUnauthorized(err) {
			return creds, fmt.Errorf("%w (is --enroll-token or TETHER_ENROLL_TOKEN right?)", err)
		}
		return creds, err
	}
	if registered {
		fmt.Fprintf(c.stderr, "Registered this computer with %s as device %s.\n", creds.Relay, creds.DeviceID)
	}
	return creds, nil
}

func (c *cli) pair(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	creds, err := c.credentials(ctx)
	if err != nil {
		return err
	}
	p, err := agent.RequestPairingCode(ctx, c.http, creds)
	if agent.IsUnauthorized(err) {
		// The relay forgot this device: register again, as the agent would.
		fmt.Fprintln(c.stderr, "The relay no longer knows this computer; registering again.")
		if err := agent.RemoveCredentials(c.configDir); err != nil {
			return err
		}
		if creds, err = c.credentials(ctx); err != nil {
			return err
		}
		p, err = agent.RequestPairingCode(ctx, c.http, creds)
	}
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(c.stdout, map[string]string{
			"code": p.Code, "url": p.URL, "expires_at": p.ExpiresAt.UTC().Format(time.RFC3339),
		})
	}
	mins := int(time.Until(p.ExpiresAt).Round(time.Minute) / time.Minute)
	fmt.Fprintf(c.stdout, "Pairing code: %s  (valid for %d minutes, until %s)\n\n", p.Code, mins, p.ExpiresAt.Local().Format("15:04"))
	fmt.Fprintf(c.stdout, "On the phone or computer that should control this one, open\n  %s\nor scan:\n\n", p.URL)
	return writeQR(c.stdout, p.URL)
}

func (c *cli) unpairAll(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	relay := c.relayURL()
	creds, err := agent.LoadCredentials(c.configDir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !creds.Valid(relay)) {
		return fmt.Errorf("this computer is not registered with %s: no browser is paired", relay)
	}
	if err != nil {
		return err
	}
	if err := agent.UnpairAll(ctx, c.http, creds); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "Every browser paired with this computer has lost access.")
	return nil
}

// known builds the command set of this build, for names and defaults only.
func known(s agent.Settings) *commands.Dispatcher {
	return commands.NewDispatcher(commands.Builtin(namesOnly{}),
		func(string) bool { return false }, func() bool { return s.Paused })
}

// allowedNames returns the commands the settings switch on, sorted.
func allowedNames(s agent.Settings) []string {
	d := known(s)
	var on []string
	for _, n := range d.Names() {
		if s.Allowed(n, d.DefaultOn(n)) {
			on = append(on, n)
		}
	}
	return on
}

func (c *cli) setAllowed(names []string, on bool) error {
	if len(names) == 0 {
		return fmt.Errorf("%w: name at least one command", errUsage)
	}
	s, err := agent.LoadSettings(c.configDir)
	if err != nil {
		return err
	}
	d := known(s)
	for _, n := range names {
		if n != "mouse" && n != commands.OpenURLPrivate && !d.Known(n) {
			return fmt.Errorf("unknown command %q; known: %s", n, strings.Join(append(d.Names(), "mouse", commands.OpenURLPrivate), ", "))
		}
	}
	for _, n := range names {
		if n == "mouse" {
			s.Mouse = on
		} else {
			s.Set(n, on)
		}
	}
	if err := agent.SaveSettings(c.configDir, s); err != nil {
		return err
	}
	word := "off"
	if on {
		word = "on"
	}
	for _, n := range names {
		fmt.Fprintf(c.stdout, "%s: %s\n", n, word)
	}
	return nil
}

// statusReport is what `tether status --json` prints.
type statusReport struct {
	Relay    string `json:"relay"`
	DeviceID string `json:"device_id,omitempty"`
	// State is the running agent's state, or "not running" when there is
	// no status file or it was not refreshed for a long time.
	State     string        `json:"state"`
	Agent     *agent.Status `json:"agent,omitempty"` // the status file, if any
	AgeS      float64       `json:"status_age_s,omitempty"`
	Allowed   []string      `json:"allowed"`
	Mouse     bool          `json:"mouse"`
	Paused    bool          `json:"paused"`
	ConfigDir string        `json:"config_dir"`
	// Service says how Tether starts at login: the target and whether it
	// is installed.
	Service serviceReport `json:"service"`
}

// serviceReport is the start-at-login part of `tether status`.
type serviceReport struct {
	Target    string `json:"target"`
	Path      string `json:"path"`
	Installed bool   `json:"installed"`
}

// staleAfter: the running agent rewrites status.json at least every minute.
const staleAfter = 3 * time.Minute

func (c *cli) status(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, args[0])
	}
	s, err := agent.LoadSettings(c.configDir)
	if err != nil {
		return err
	}
	r := statusReport{Relay: c.relayURL(), Allowed: allowedNames(s), Mouse: s.Mouse, Paused: s.Paused, ConfigDir: c.configDir}
	if creds, err := agent.LoadCredentials(c.configDir); err == nil && creds.Valid(r.Relay) {
		r.DeviceID = creds.DeviceID
	}
	if in, err := installer.New(c.installerConfig()); err == nil {
		ok, _ := in.Installed()
		r.Service = serviceReport{Target: string(in.Target()), Path: in.Path(), Installed: ok}
	}
	r.State = "not running"
	if st, err := agent.ReadStatus(c.configDir); err == nil {
		r.Agent = &st
		age := time.Since(st.Updated)
		r.AgeS = age.Round(time.Millisecond).Seconds()
		if age < staleAfter || st.State == agent.StateStopped {
			r.State = st.State
		}
	}
	if c.json {
		return writeJSON(c.stdout, r)
	}
	w := c.stdout
	fmt.Fprintf(w, "Relay:     %s\n", r.Relay)
	if r.DeviceID == "" {
		fmt.Fprintln(w, "Device:    not registered yet")
	} else {
		fmt.Fprintf(w, "Device:    %s\n", r.DeviceID)
	}
	switch st := r.Agent; {
	case st == nil:
		fmt.Fprintln(w, "State:     not running (no status file)")
	default:
		age := time.Duration(r.AgeS * float64(time.Second)).Round(time.Second)
		line := fmt.Sprintf("%s since %s (status written %s ago)", r.State, st.Since.Local().Format("2006-01-02 15:04:05"), age)
		if r.State == "not running" {
			line = fmt.Sprintf("not running (last status %q written %s ago)", st.State, age)
		}
		fmt.Fprintf(w, "State:     %s\n", line)
		if r.State == agent.StateConnected {
			fmt.Fprintf(w, "Watchers:  %d\n", st.Watchers)
		}
		if st.LastError != "" && r.State != agent.StateConnected && r.State != "not running" {
			fmt.Fprintf(w, "Error:     %s\n", st.LastError)
			if !st.NextRetry.IsZero() {
				fmt.Fprintf(w, "Retry at:  %s\n", st.NextRetry.Local().Format("15:04:05"))
			}
		}
	}
	allowed := "none"
	if len(r.Allowed) > 0 {
		allowed = strings.Join(r.Allowed, ", ")
	}
	fmt.Fprintf(w, "Allowed:   %s\n", allowed)
	if r.Agent != nil && r.State != "not running" {
		for _, name := range slices.Sorted(maps.Keys(r.Agent.Unavailable)) {
			fmt.Fprintf(w, "Unavailable: %s: %s\n", name, r.Agent.Unavailable[name])
		}
	}
	fmt.Fprintf(w, "Mouse:     %s\n", onOff(r.Mouse))
	if r.Paused {
		fmt.Fprintln(w, "Paused:    yes (every command is refused)")
	}
	if r.Service.Installed {
		fmt.Fprintf(w, "Service:   starts at login (%s: %s)\n", r.Service.Target, r.Service.Path)
	} else {
		fmt.Fprintln(w, `Service:   not installed ("tether install" starts Tether at login)`)
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "shared"
	}
	return "not shared"
}

func (c *cli) version(ctx context.Context, args []string) error {
	fmt.Fprintf(c.stdout, "tether %s (commit %s, built %s, %s %s/%s)\n", version, commit, date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// namesOnly stands in for the desktop where only the command set's names and
// defaults are wanted; nothing is ever run through it.
type namesOnly struct{}

func (namesOnly) Beep(context.Context, int, time.Duration) error { return errors.New("not running") }
func (namesOnly) Notify(context.Context, string, string) error   { return errors.New("not running") }
func (namesOnly) Unavailable() map[string]string                 { return nil }
