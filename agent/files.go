package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Names of the files the agent keeps in its config directory.
const (
	CredentialsFile = "credentials.json" // Credentials: the device's identity, secret
	SettingsFile    = "config.json"      // Settings: what the owner allows
	StatusFile      = "status.json"      // Status of the running agent, for `tether status`
)

// DefaultRelay is the relay used when neither a flag, the environment, the
// settings nor stored credentials name one.
const DefaultRelay = "http://127.0.0.1:8080"

// Credentials identify this device to one relay. The token is a secret: it is
// stored with owner-only permissions and never logged.
type Credentials struct {
	Relay       string `json:"relay"`
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
}

// Valid reports whether c holds an identity for relay.
func (c Credentials) Valid(relay string) bool {
	return c.DeviceID != "" && c.DeviceToken != "" && NormalizeRelay(c.Relay) == NormalizeRelay(relay)
}

// String shows the relay and device id, never the token, so that a
// Credentials value printed by mistake leaks nothing.
func (c Credentials) String() string {
	return fmt.Sprintf("device %s on %s", c.DeviceID, c.Relay)
}

// GoString keeps the token out of %#v as well.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps the token out of structured logs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Settings is the owner's configuration in config.json. The zero value is
// meaningful: the default relay resolution, the host name, every command at its
// default, mouse sharing off, not paused.
type Settings struct {
	// Relay is the relay URL to use when no flag or environment names one.
	Relay string `json:"relay,omitempty"`
	// Name is the device's display name; empty means the host name.
	Name string `json:"name,omitempty"`
	// Commands switches commands on (true) or off (false) explicitly; a
	// command that is absent keeps its default.
	Commands map[string]bool `json:"commands"`
	// Mouse shares mouse activity (moves, clicks, scrolls) with watchers.
	// Off by default.
	Mouse bool `json:"mouse"`
	// Paused refuses every command until switched back.
	Paused bool `json:"paused"`
	// CAFile is a PEM file of a private CA that signed the relay's
	// certificate, trusted besides the system's roots.
	CAFile string `json:"ca_file,omitempty"`
	// MaxFileMiB is the largest file receive_files accepts, in MiB; 0
	// means 100. Read when the agent starts.
	MaxFileMiB int `json:"max_file_mib,omitempty"`
}

// Allowed reports whether command name is switched on, given its default.
func (s Settings) Allowed(name string, defaultOn bool) bool {
	if on, ok := s.Commands[name]; ok {
		return on
	}
	return defaultOn
}

// Set switches command name on or off explicitly.
func (s *Settings) Set(name string, on bool) {
	if s.Commands == nil {
		s.Commands = map[string]bool{}
	}
	s.Commands[name] = on
}

// NormalizeRelay trims spaces and trailing slashes so that two spellings of
// one relay compare equal.
func NormalizeRelay(u string) string {
	return strings.TrimRight(strings.TrimSpace(u), "/")
}

// ResolveRelay picks the relay URL: flag (or environment, already folded into
// flag by the caller) first, then the settings, then stored credentials, then
// DefaultRelay. Missing or unreadable files are skipped.
func ResolveRelay(dir, flag string) string {
	if r := NormalizeRelay(flag); r != "" {
		return r
	}
	if s, err := LoadSettings(dir); err == nil && s.Relay != "" {
		return NormalizeRelay(s.Relay)
	}
	if c, err := LoadCredentials(dir); err == nil && c.Relay != "" {
		return NormalizeRelay(c.Relay)
	}
	return DefaultRelay
}

// LoadSettings reads config.json from dir. A missing file gives zero
// Settings and no error. Safe to call concurrently with SaveSettings: the file
// is replaced atomically.
func LoadSettings(dir string) (Settings, error) {
	var s Settings
	err := readJSON(filepath.Join(dir, SettingsFile), &s)
	if errors.Is(err, fs.ErrNotExist) {
		return Settings{}, nil
	}
	return s, err
}

// SaveSettings writes s to config.json in dir (created 0700), atomically, with
// mode 0600. A running agent notices the change within its SettingsPoll.
func SaveSettings(dir string, s Settings) error {
	if s.Commands == nil {
		s.Commands = map[string]bool{}
	}
	return writeJSON(dir, SettingsFile, s)
}

// LoadCredentials reads credentials.json from dir; a missing file gives an
// error matching fs.ErrNotExist.
func LoadCredentials(dir string) (Credentials, error) {
	var c Credentials
	err := readJSON(filepath.Join(dir, CredentialsFile), &c)
	return c, err
}

// SaveCredentials writes c to credentials.json in dir (created 0700),
// atomically, with mode 0600.
func SaveCredentials(dir string, c Credentials) error {
	return writeJSON(dir, CredentialsFile, c)
}

// RemoveCredentials deletes credentials.json; a missing file is not an error.
func RemoveCredentials(dir string) error {
	err := os.Remove(filepath.Join(dir, CredentialsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove credentials: %w", err)
	}
	return nil
}

// Status is a snapshot of a running agent, returned by (*Agent).Status and
// written to status.json after every change (a burst of changes is one
// write).
type Status struct {
	// State is one of the State… constants.
	State string `json:"state"`
	// Since is when State last changed.
	Since time.Time `json:"since"`
	// Updated is when this snapshot was taken: the last change. status.json
	// is written only when something changes, so its age does not say
	// whether the agent still runs; its PID does.
	Updated   time.Time `json:"updated"`
	Relay     string    `json:"relay"`
	DeviceID  string    `json:"device_id,omitempty"`
	Name      string    `json:"name,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// NextRetry is when the next connection attempt starts, while offline.
	NextRetry time.Time `json:"next_retry,omitzero"`
	Watchers  int       `json:"watchers"`
	// Allowed lists the commands switched on, sorted.
	Allowed []string `json:"allowed"`
	Paused  bool     `json:"paused,omitempty"`
	Mouse   bool     `json:"mouse,omitempty"`
	// WindowTitle says the owner shares the focused window's title in
	// telemetry (`tether allow window_title`; off by default).
	WindowTitle bool `json:"window_title,omitempty"`
	// Unavailable names the commands switched on that cannot run here now,
	// with the reason, as in the current hello (rebuilt every SettingsPoll).
	Unavailable map[string]string `json:"unavailable,omitempty"`
	PID         int               `json:"pid,omitempty"`
	// Custom names the owner's custom commands in force (from
	// custom-commands.json), in the file's order; each is also in Allowed
	// when switched on.
	Custom []string `json:"custom,omitempty"`
	// CustomError says why custom-commands.json was refused, when its
	// latest version was; the commands of the previous version stay.
	CustomError string `json:"custom_error,omitempty"`
}

// Connection states in Status.State.
const (
	StateConnecting   = "connecting"   // registering or dialing the relay
	StateConnected    = "connected"    // the link to the relay is up
	StateOffline      = "offline"      // waiting to retry (see NextRetry and LastError)
	StateUnauthorized = "unauthorized" // the relay refused to register this device (enroll token)
	StateStopped      = "stopped"      // Run returned
)

// ReadStatus reads status.json from dir, as last written by a running agent.
func ReadStatus(dir string) (Status, error) {
	var s Status
	err := readJSON(filepath.Join(dir, StatusFile), &s)
	return s, err
}

func writeStatus(dir string, s Status) error {
	return writeJSON(dir, StatusFile, s)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// writeJSON writes v as indented JSON to dir/name through a temporary file and
// a rename, so readers never see half a file. dir is created 0700, the file is
// 0600.
func writeJSON(dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	b = append(b, '\n')
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config dir: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func sortedTrue(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
