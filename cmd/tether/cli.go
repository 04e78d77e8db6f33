package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/agent"
)

// errUsage marks a mistake in the command line: exit code 2 instead of 1.
var errUsage = errors.New("usage")

// cli is one invocation: its output streams and its flags.
type cli struct {
	stdout, stderr io.Writer

	configDir   string
	relay       string // the --relay flag or TETHER_AGENT_RELAY; empty: agent.ResolveRelay decides
	enrollToken string
	caFile      string // the --ca-file flag or TETHER_CA_FILE; empty: the one in config.json

	// http and dialer reach the relay (nil: the defaults); set from the CA file.
	http   *http.Client
	dialer *websocket.Dialer

	json       bool
	follow     bool // log: -f
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
		{"browsers", "[--json]", "the paired browsers: id, name, address, paired at, last seen",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.json, "json", false, "print a JSON array")
			}, (*cli).browsers},
		{"unpair", "ID", "forget one paired browser (an id from tether browsers); its sockets are cut at once", nil, (*cli).unpair},
		{"log", "[-f] [--json]", "the activity log: every command that reached this computer and its result",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.follow, "f", false, "keep printing new entries until interrupted")
				fs.BoolVar(&c.json, "json", false, "print JSON lines")
			}, (*cli).log},
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
			}, serviceVerb(service.uninstall)},
		{"start", "[--unattended]", "start the installed agent in the background",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.unattended, "unattended", false, "start the system service instead")
			}, serviceVerb(service.start)},
		{"stop", "[--unattended]", "stop the agent running in the background",
			func(fs *flag.FlagSet, c *cli) {
				fs.BoolVar(&c.unattended, "unattended", false, "stop the system service instead")
			}, serviceVerb(service.stop)},
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
  --relay URL            the relay (env TETHER_AGENT_RELAY; default: the relay in config.json
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
	return runContext(ctx, os.Getenv, args, stdout, stderr)
}

// runContext runs one command line until it is done or ctx ends, and
// returns the exit code: 0 done, 1 failed (one line on stderr), 2 misused.
// getenv reads the environment (os.Getenv, or a map in tests).
func runContext(ctx context.Context, getenv func(string) string, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	cmd, fs, pos, code := c.parse(getenv, args)
	if cmd == nil {
		return code
	}
	if c.configDir == "" {
		fmt.Fprintln(stderr, "tether: no config directory: set --config-dir or TETHER_CONFIG_DIR")
		return 1
	}
	if err := c.setupTLS(); err != nil {
		fmt.Fprintf(stderr, "tether %s: %v\n", cmd.name, err)
		return 1
	}
	if err := cmd.run(c, ctx, pos); err != nil {
		fmt.Fprintf(stderr, "tether %s: %v\n", cmd.name, err)
		if errors.Is(err, errUsage) {
			fs.Usage()
			return 2
		}
		return 1
	}
	return 0
}

// parse reads the global flags (which may also come before the command),
// the command and its own flags into c. It returns the command, its flag
// set and positional arguments; or a nil command and the exit code when
// there is nothing to run (help, or a mistake it has explained on stderr).
func (c *cli) parse(getenv func(string) string, args []string) (*command, *flag.FlagSet, []string, int) {
	global := flag.NewFlagSet("tether", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.caFile = getenv("TETHER_CA_FILE")
	c.globalFlags(global, defaultConfigDir(getenv), relayFromEnv(getenv, c.stderr), getenv("TETHER_ENROLL_TOKEN"))
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(c.stdout)
			return nil, nil, nil, 0
		}
		fmt.Fprintf(c.stderr, "tether: %v\n\n", err)
		usage(c.stderr)
		return nil, nil, nil, 2
	}
	args = global.Args()
	if len(args) == 0 {
		usage(c.stderr)
		return nil, nil, nil, 2
	}
	name, args := args[0], args[1:]
	i := slices.IndexFunc(commandList(), func(cmd command) bool { return cmd.name == name })
	if i < 0 {
		fmt.Fprintf(c.stderr, "tether: unknown command %q\n\n", name)
		usage(c.stderr)
		return nil, nil, nil, 2
	}
	cmd := commandList()[i]
	if cmd.run == nil { // help
		usage(c.stdout)
		return nil, nil, nil, 0
	}
	fs := flag.NewFlagSet("tether "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: tether %s %s\n\n", name, cmd.args)
		fs.PrintDefaults()
	}
	c.globalFlags(fs, c.configDir, c.relay, c.enrollToken)
	if cmd.flags != nil {
		cmd.flags(fs, c)
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, nil, nil, 0
	}
	if err != nil {
		return nil, nil, nil, 2 // the flag package has printed the error and usage
	}
	return &cmd, fs, pos, 0
}

func (c *cli) globalFlags(fs *flag.FlagSet, dir, relay, token string) {
	fs.StringVar(&c.configDir, "config-dir", dir, "directory of credentials and settings (env TETHER_CONFIG_DIR)")
	fs.StringVar(&c.relay, "relay", relay, "relay URL (env TETHER_AGENT_RELAY)")
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

func defaultConfigDir(getenv func(string) string) string {
	if d := getenv("TETHER_CONFIG_DIR"); d != "" {
		return d
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "tether")
}

// relayFromEnv is the relay the environment names: TETHER_AGENT_RELAY, else
// TETHER_RELAY, the older name, which still works but reads like one of
// tether-relay's own TETHER_RELAY_* settings, so using it brings a notice.
func relayFromEnv(getenv func(string) string, stderr io.Writer) string {
	if r := getenv("TETHER_AGENT_RELAY"); r != "" {
		return r
	}
	r := getenv("TETHER_RELAY")
	if r != "" {
		fmt.Fprintln(stderr, "tether: TETHER_RELAY is deprecated (it reads like a tether-relay setting); use TETHER_AGENT_RELAY")
	}
	return r
}

func (c *cli) relayURL() string { return agent.ResolveRelay(c.configDir, c.relay) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
