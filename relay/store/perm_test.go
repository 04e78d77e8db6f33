//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-desktop/tether/internal/perm"
)

// TestOpenTightensDataDir: an existing data directory with mode 0755 is made
// 0700 by Open.
func TestOpenTightensDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %04o after Open, want 0700", fi.Mode().Perm())
	}
}

// TestOpenRefusesAnotherUsersDir needs root to give the directory away.
func TestOpenRefusesAnotherUsersDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a directory to another user")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir); !errors.Is(err, perm.ErrNotOwner) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of another user's directory = %v, want ErrNotOwner", err)
	}
}
