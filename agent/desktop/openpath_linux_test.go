package desktop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenPath: a local file or folder reaches xdg-open as one argument,
// exactly as given (no http-only check, no file:// rewriting); a relative
// or missing path never reaches it. xdg-open here is a script that records
// its arguments, as the real one would launch a file manager.
func TestOpenPath(t *testing.T) {
	bin, dir := t.TempDir(), t.TempDir()
	got := filepath.Join(t.TempDir(), "argv")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> " + got + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DISPLAY", ":99")
	file := filepath.Join(dir, "photo (2) $x;.jpg")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
	defer cancel()
	d := New(nil)
	for _, p := range []string{file, dir + "/"} {
		if err := d.OpenPath(ctx, p); err != nil {
			t.Fatalf("OpenPath(%q) = %v", p, err)
		}
	}
	for _, bad := range []string{"-photo.jpg", "photo.jpg", filepath.Join(dir, "missing.jpg"), "https://example.com/"} {
		if err := d.OpenPath(ctx, bad); err == nil {
			t.Errorf("OpenPath(%q) = nil, want an error", bad)
		}
	}
	out, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := file + "\n" + dir + "\n"; string(out) != want {
		t.Errorf("xdg-open got %q, want %q", out, want)
	}

	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if err := d.OpenPath(ctx, file); err == nil || !strings.Contains(err.Error(), "no desktop session") {
		t.Errorf("OpenPath without a display = %v", err)
	}
}
