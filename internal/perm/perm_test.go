//go:build unix

package perm

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func logBuf() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestPrivateDir(t *testing.T) {
	root := t.TempDir()
	t.Run("created 0700 with its parents", func(t *testing.T) {
		log, buf := logBuf()
		dir := filepath.Join(root, "new", "tether")
		if err := PrivateDir(dir, log); err != nil {
			t.Fatal(err)
		}
		if m := mode(t, dir); m != 0o700 {
			t.Errorf("mode %04o, want 0700", m)
		}
		if buf.Len() != 0 {
			t.Errorf("logged for a new directory: %s", buf)
		}
	})
	t.Run("existing 0755 tightened and logged", func(t *testing.T) {
		log, buf := logBuf()
		dir := filepath.Join(root, "open")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(dir, 0o755) // past the umask
		if err := PrivateDir(dir, log); err != nil {
			t.Fatal(err)
		}
		if m := mode(t, dir); m != 0o700 {
			t.Errorf("mode %04o, want 0700", m)
		}
		if s := buf.String(); !strings.Contains(s, "tightened permissions") || !strings.Contains(s, "from=0755") || !strings.Contains(s, dir) {
			t.Errorf("log = %q", s)
		}
	})
	t.Run("existing 0700 left alone", func(t *testing.T) {
		log, buf := logBuf()
		dir := filepath.Join(root, "closed")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := PrivateDir(dir, log); err != nil || buf.Len() != 0 {
			t.Errorf("PrivateDir = %v, log %q", err, buf)
		}
	})
	t.Run("a file is refused", func(t *testing.T) {
		f := filepath.Join(root, "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := PrivateDir(f, nil); err == nil {
			t.Error("PrivateDir of a file succeeded")
		}
	})
}

func TestPrivateFile(t *testing.T) {
	dir := t.TempDir()
	log, buf := logBuf()
	if err := PrivateFile(filepath.Join(dir, "missing"), log); err != nil {
		t.Errorf("missing file: %v", err)
	}
	key := filepath.Join(dir, "code.key")
	if err := os.WriteFile(key, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o644)
	if err := PrivateFile(key, log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, key); m != 0o600 {
		t.Errorf("mode %04o, want 0600", m)
	}
	if s := buf.String(); !strings.Contains(s, "from=0644") || !strings.Contains(s, "to=0600") {
		t.Errorf("log = %q", s)
	}
	buf.Reset()
	if err := PrivateFile(key, log); err != nil || buf.Len() != 0 {
		t.Errorf("second call: %v, log %q", err, buf)
	}
	if err := PrivateFile(dir, log); err == nil {
		t.Error("PrivateFile of a directory succeeded")
	}
}

// TestOtherOwnerRefused needs root, to give files away.
func TestOtherOwnerRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a file to another user")
	}
	dir := filepath.Join(t.TempDir(), "theirs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "code.key")
	if err := os.WriteFile(key, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, key} {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	log, buf := logBuf()
	for name, err := range map[string]error{"dir": PrivateDir(dir, log), "file": PrivateFile(key, log)} {
		if !errors.Is(err, ErrNotOwner) || !strings.Contains(err.Error(), "uid 65534") {
			t.Errorf("%s: %v, want ErrNotOwner naming uid 65534", name, err)
		}
	}
	if m := mode(t, dir); m != 0o755 {
		t.Errorf("another user's directory was changed to %04o", m)
	}
	if buf.Len() != 0 {
		t.Errorf("logged: %s", buf)
	}
}
