//go:build unix

package server

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-desktop/tether/internal/perm"
)

// TestLoadOrCreateKeyTightensMode: a code.key left readable by others (0644)
// is made 0600 and still read.
func TestLoadOrCreateKeyTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "code.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("reload of a 0644 key: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %04o after load, want 0600", fi.Mode().Perm())
	}
}

// TestLoadOrCreateKeyRefusesAnotherUsersKey needs root to give the file away.
func TestLoadOrCreateKeyRefusesAnotherUsersKey(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a file to another user")
	}
	path := filepath.Join(t.TempDir(), "code.key")
	if _, err := LoadOrCreateKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); !errors.Is(err, perm.ErrNotOwner) {
		t.Fatalf("LoadOrCreateKey of another user's key = %v, want ErrNotOwner", err)
	}
}
