package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/agent/backoff"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// Sampler takes one telemetry sample; it must not sleep. *telemetry.Sampler
// implements it.
type Sampler interface {
	Sample(ctx context.Context) (protocol.Telemetry, error)
}

// MouseWatcher reports the pointer's activity for the mouse events the owner
// may share. *desktop.Desktop implements it.
type MouseWatcher interface {
	// WatchMouse calls emit for every move, button press and wheel turn of
	// the pointer (starting with its current position) until ctx ends, and
	// then returns nil; it returns an error at once when it cannot watch
	// (no display). emit is safe to call from any goroutine and never blocks.
	WatchMouse(ctx context.Context, emit func(protocol.MouseEvent)) error
}

// ScreenReporter tells the size of the desktop for hello. *desktop.Desktop
// implements it.
type ScreenReporter interface {
	// Screen returns the desktop's size, or nil when there is no display.
	// It must be cheap: hello is rebuilt every SettingsPoll.
	Screen() *protocol.Screen
}

// Availability is a desktop that caches its answers about what it lacks
// (commands.Desktop's Unavailable) and tells when they may have changed.
// *desktop.Desktop implements it.
type Availability interface {
	// Recheck forgets the cached answers: the next Unavailable asks the
	// machine again. The agent calls it when somebody starts watching.
	Recheck()
	// Changes is ready when the answers may have changed without being
	// asked (a display that went away or came back); the agent then
	// announces a new hello.
	Changes() <-chan struct{}
}

// Config configures an Agent. Only ConfigDir and one of Desktop or Commands
// are required; every other zero value means the default written beside it.
// Defaults are filled in by New, in one place (Config.complete).
type Config struct {
	// RelayURL is the relay's base URL (http:// or https://). Default: the
	// relay in config.json, else the one in credentials.json, else
	// DefaultRelay.
	RelayURL string
	// ConfigDir holds credentials.json, config.json and status.json. It is
	// created with mode 0700 if missing. Required.
	ConfigDir string
	// Name is the device's display name. Default: the name in config.json,
	// else the host name.
	Name string
	// EnrollToken is sent when registering, if the relay demands one.
	EnrollToken string
	// Version is announced in hello. Default "dev".
	Version string
	// Logger receives the agent's log. Default: discard.
	Logger *slog.Logger

	// HTTPClient makes the HTTP API calls. Default http.DefaultClient, which
	// honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
	HTTPClient *http.Client
	// Dialer opens the WebSocket. Default: proxy from the environment and a
	// 15 s handshake timeout.
	Dialer *websocket.Dialer

	// Desktop carries out beep and notify and says which commands cannot
	// run here (hello's "unavailable").
	Desktop commands.Desktop
	// Commands replaces the built-in command set (commands.Builtin(Desktop)).
	// The agent wraps them in a dispatcher that checks config.json.
	Commands []commands.Command
	// Sampler takes telemetry. Default: a telemetry.Sampler with every
	// sensor, the idle time and the focused window's title from Desktop
	// (when it gives them), the title only while the owner shares it.
	Sampler Sampler
	// Mouse watches the pointer while somebody watches the device and the
	// owner shares mouse activity. Default: Desktop, if it is a
	// MouseWatcher; nil shares nothing.
	Mouse MouseWatcher
	// Screen tells the desktop's size for hello. Default: Desktop, if it is
	// a ScreenReporter; nil announces no screen.
	Screen ScreenReporter

	// Clock drives the reconnect backoff. Default backoff.Real; tests pass a
	// *backoff.FakeClock.
	Clock backoff.Clock
	// Rand returns numbers in [0,1) for jitter. Default math/rand/v2.Float64.
	Rand func() float64
	// Heartbeat is the interval of the agent's own WebSocket pings. Default 25 s.
	Heartbeat time.Duration
	// DeadAfter is how long the link may stay silent (no frame, no pong)
	// before it is dropped. Default 60 s; raised to 2×Heartbeat if smaller.
	DeadAfter time.Duration
	// TelemetryEvery is the telemetry interval while watched. Default 1 s.
	TelemetryEvery time.Duration
	// SettingsPoll is how often the running agent re-reads config.json and
	// rebuilds its hello (one watcher for both). Default 2 s.
	SettingsPoll time.Duration
	// MaxConcurrent bounds the commands running at once; beyond it a
	// command is answered rate_limited. Default 8.
	MaxConcurrent int
	// Quiet, when set, is told true when the agent goes quiet, false when
	// it stops being quiet, and once at New (true: a new agent is quiet).
	// Quiet is the state an agent spends nearly all its life in: nobody
	// watches the desktop, and no command, file or pairing notice is under
	// way; what wakes it then is its heartbeat. A process can spend less
	// while quiet (cmd/tether turns the garbage collector off). Calls come
	// one at a time and in order, with the agent's state locked: Quiet
	// must return at once and must not call the Agent.
	Quiet func(quiet bool)

	// Inbox is the folder receive_files saves into. Default: the Tether
	// folder in Desktop's Downloads folder (when Desktop is a
	// DownloadsLocator); none leaves receive_files unavailable.
	Inbox string
	// MaxFileSize is the largest file receive_files accepts, in bytes.
	// Default: config.json's max_file_mib, else protocol.DefaultMaxFile
	// (100 MiB).
	MaxFileSize int64
}

// Timings that need no configuration.
const (
	handshakeTimeout = 15 * time.Second
	writeWait        = 15 * time.Second      // deadline of one write
	probeWait        = 10 * time.Second      // deadline of the pong after a wake from sleep
	sleepCheck       = 5 * time.Second       // how often the clocks are compared
	sleepJump        = 10 * time.Second      // wall clock ahead of monotonic by this much → slept
	restartWait      = 5 * time.Second       // the first retry after 1012 lies in [0, restartWait)
	stableAfter      = 60 * time.Second      // the backoff resets after a link up this long
	unauthorizedWait = 30 * time.Millisecond // pause before registering again after a 401
	moveEvery        = 50 * time.Millisecond // mouse_move events: at most 20 a second
	mouseRetry       = 30 * time.Second      // after the pointer could not be watched
	eventQueueSoft   = 256                   // queued events past which the oldest moves are dropped
)

func (c *Config) complete() error {
	if c.ConfigDir == "" {
		return errors.New("agent: Config.ConfigDir is required")
	}
	if c.Desktop == nil && c.Commands == nil {
		return errors.New("agent: Config needs a Desktop or Commands")
	}
	c.RelayURL = ResolveRelay(c.ConfigDir, c.RelayURL)
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.Dialer == nil {
		c.Dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: handshakeTimeout}
	}
	if c.Commands == nil {
		c.Commands = commands.Builtin(c.Desktop)
	}
	c.wireInbox()
	if m, ok := c.Desktop.(MouseWatcher); ok && c.Mouse == nil {
		c.Mouse = m
	}
	if s, ok := c.Desktop.(ScreenReporter); ok && c.Screen == nil {
		c.Screen = s
	}
	if c.Clock == nil {
		c.Clock = backoff.Real
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 25 * time.Second
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = 60 * time.Second
	}
	if c.DeadAfter < 2*c.Heartbeat {
		c.DeadAfter = 2 * c.Heartbeat
	}
	if c.TelemetryEvery <= 0 {
		c.TelemetryEvery = time.Second
	}
	if c.SettingsPoll <= 0 {
		c.SettingsPoll = 2 * time.Second
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 8
	}
	return nil
}

// wireInbox gives the receive_files command among Commands (if there is
// one) its folder and size limit, and removes the .part files a previous
// run left there. Without a folder the command stays unavailable.
func (c *Config) wireInbox() {
	i := slices.IndexFunc(c.Commands, func(cmd commands.Command) bool { return cmd.Spec.Name == protocol.CommandReceiveFiles })
	if i < 0 {
		return
	}
	if c.MaxFileSize <= 0 {
		c.MaxFileSize = protocol.DefaultMaxFile
		if s, err := LoadSettings(c.ConfigDir); err == nil && s.MaxFileMiB > 0 {
			c.MaxFileSize = int64(s.MaxFileMiB) << 20
		}
	}
	if c.Inbox == "" {
		if dl, ok := c.Desktop.(DownloadsLocator); ok {
			if dir, err := dl.DownloadsDir(); err == nil {
				c.Inbox = filepath.Join(dir, InboxFolder)
			} else {
				c.Logger.Warn("no folder for received files", "err", err)
			}
		}
	}
	cmds := slices.Clone(c.Commands)
	cmds[i] = commands.ReceiveFiles(nil, c.MaxFileSize)
	if c.Inbox != "" {
		r, err := inboxFor(c.Inbox, c.MaxFileSize, c.Desktop, c.Logger)
		if err != nil {
			c.Logger.Warn("cannot clean the folder for received files", "dir", c.Inbox, "err", err)
		}
		if r != nil {
			cmds[i] = commands.ReceiveFiles(r, c.MaxFileSize)
		}
	}
	c.Commands = cmds
}
