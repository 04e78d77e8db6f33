//go:build unix

package agent

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/internal/perm"
)

// TestNewTightensConfigDir: an existing config directory with mode 0755 and
// a credentials file with mode 0644 (from an older version, or copied by
// hand) are made private by New, with a log line each.
func TestNewTightensConfigDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tether")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cred := filepath.Join(dir, CredentialsFile)
	if err := os.WriteFile(cred, []byte(`{"relay":"http://127.0.0.1:1","device_id":"d","device_token":"t"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, m := range map[string]os.FileMode{dir: 0o755, cred: 0o644} {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	_, err := New(Config{ConfigDir: dir, Commands: []commands.Command{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, cred: 0o600} {
		if m := fileMode(t, p); m != want {
			t.Errorf("%s mode %04o, want %04o", p, m, want)
		}
	}
	if n := strings.Count(logs.String(), "tightened permissions"); n != 2 {
		t.Errorf("%d log lines about permissions, want 2:\n%s", n, logs.String())
	}
}

// TestNewRefusesAnotherUsersConfigDir needs root to give the directory away.
func TestNewRefusesAnotherUsersConfigDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "tether")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{ConfigDir: dir, Commands: []commands.Command{}})
	if !errors.Is(err, perm.ErrNotOwner) {
		t.Fatalf("New with another user's config dir = %v, want ErrNotOwner", err)
	}
}
