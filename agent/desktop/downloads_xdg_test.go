//go:build !windows && !darwin

package desktop

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserDirsDownload(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"home relative", "# comment\nXDG_DESKTOP_DIR=\"$HOME/Desktop\"\nXDG_DOWNLOAD_DIR=\"$HOME/Téléchargements\"\n", "/home/u/Téléchargements"},
		{"absolute", "XDG_DOWNLOAD_DIR=\"/data/dl/\"\n", "/data/dl"},
		{"home itself means unset", "XDG_DOWNLOAD_DIR=\"$HOME/\"\n", ""},
		{"absent", "XDG_MUSIC_DIR=\"$HOME/Music\"\n", ""},
		{"relative is ignored", "XDG_DOWNLOAD_DIR=\"dl\"\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := userDirsDownload(bufio.NewScanner(strings.NewReader(tc.file)), "/home/u"); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDownloadsDirOrder(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DOWNLOAD_DIR", "")
	d := &Desktop{}
	if got, _ := d.DownloadsDir(); got != filepath.Join(home, "Downloads") {
		t.Fatalf("no configuration: %q", got)
	}
	os.MkdirAll(filepath.Join(home, ".config"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "user-dirs.dirs"), []byte("XDG_DOWNLOAD_DIR=\"$HOME/Dl\"\n"), 0o600)
	if got, _ := d.DownloadsDir(); got != filepath.Join(home, "Dl") {
		t.Fatalf("user-dirs.dirs: %q", got)
	}
	t.Setenv("XDG_DOWNLOAD_DIR", "/tmp/x")
	if got, _ := d.DownloadsDir(); got != "/tmp/x" {
		t.Fatalf("environment: %q", got)
	}
}
