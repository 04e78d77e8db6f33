package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/tether-desktop/tether/agent/commands"
)

// buttonsDesktop is a desktop with Downloads, buttons (each notice
// clicked with choose, if set, as a person would) and a path opener.
type buttonsDesktop struct {
	downloadsDesktop
	actionNotifier

	mu     sync.Mutex
	opened []string
}

// Notify is the actionNotifier's, which records the notices.
func (d *buttonsDesktop) Notify(ctx context.Context, title, body string) error {
	return d.actionNotifier.Notify(ctx, title, body)
}

func (d *buttonsDesktop) OpenPath(_ context.Context, path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opened = append(d.opened, path)
	return nil
}

// receive saves a file named name holding body through cfg's receive_files.
func receive(t *testing.T, cfg Config, name, body string) {
	t.Helper()
	i := slices.IndexFunc(cfg.Commands, func(c commands.Command) bool { return c.Spec.Name == "receive_files" })
	if i < 0 || cfg.Commands[i].Receiver == nil {
		t.Fatal("receive_files not wired")
	}
	sink, err := cfg.Commands[i].Receiver.Begin(context.Background(), "Chrome on Android", name, int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if _, err := sink.Commit(context.Background(), hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
}

// TestReceivedFileButtons: the notice of a received file offers Open and
// Show in folder when the desktop has buttons; Open opens the saved file
// (under the name it was saved as), Show in folder the Tether folder, and
// a notice nobody clicks opens nothing.
func TestReceivedFileButtons(t *testing.T) {
	for _, tc := range []struct {
		click, want string // want: "" for nothing, else a path under the folder
	}{
		{"", ""},
		{actionOpen, "photo (2).jpg"},
		{actionShowInFolder, "."},
	} {
		t.Run("click "+tc.click, func(t *testing.T) {
			dl := t.TempDir()
			inbox := filepath.Join(dl, InboxFolder)
			os.MkdirAll(inbox, 0o700)
			os.WriteFile(filepath.Join(inbox, "photo.jpg"), []byte("older"), 0o600)
			desk := &buttonsDesktop{downloadsDesktop: downloadsDesktop{&fakeDesktop{}, dl}}
			desk.choose = tc.click
			cfg := Config{ConfigDir: t.TempDir(), Desktop: desk}
			if err := cfg.complete(); err != nil {
				t.Fatal(err)
			}
			receive(t, cfg, "photo.jpg", "jpeg bytes")
			desk.clicked()
			if len(desk.titles) != 1 || desk.titles[0] != "photo (2).jpg from Chrome on Android" {
				t.Errorf("notices %q", desk.titles)
			}
			if len(desk.actions) != 1 || !slices.Equal(desk.actions[0], []string{"Open", "Show in folder"}) {
				t.Errorf("buttons %q, want [[Open Show in folder]]", desk.actions)
			}
			var want []string
			if tc.want != "" {
				want = []string{filepath.Join(inbox, tc.want)}
			}
			if !slices.Equal(desk.opened, want) {
				t.Errorf("opened %q, want %q", desk.opened, want)
			}
		})
	}

	t.Run("a desktop without buttons gets the plain notice", func(t *testing.T) {
		desk := &fakeDesktop{}
		cfg := Config{ConfigDir: t.TempDir(), Desktop: downloadsDesktop{desk, t.TempDir()}}
		if err := cfg.complete(); err != nil {
			t.Fatal(err)
		}
		receive(t, cfg, "a.txt", "x")
		if len(desk.notes) != 1 || desk.notes[0] != "a.txt from Chrome on Android" {
			t.Errorf("notices %q", desk.notes)
		}
	})
}

// TestReceivedFolder: the agent names (and creates, owner-only) the folder
// received files go to, for the tray's Received files; without one it says
// so.
func TestReceivedFolder(t *testing.T) {
	dl := t.TempDir()
	a, err := New(Config{ConfigDir: t.TempDir(), RelayURL: "http://127.0.0.1:1", Desktop: downloadsDesktop{&fakeDesktop{}, dl}})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := a.ReceivedFolder()
	if want := filepath.Join(dl, InboxFolder); err != nil || dir != want {
		t.Fatalf("ReceivedFolder() = %q, %v; want %q", dir, err, want)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("folder not created owner-only: %v, %v", fi, err)
	}

	a, err = New(Config{ConfigDir: t.TempDir(), RelayURL: "http://127.0.0.1:1", Desktop: &fakeDesktop{}})
	if err != nil {
		t.Fatal(err)
	}
	if dir, err := a.ReceivedFolder(); !errors.Is(err, ErrNoInbox) {
		t.Fatalf("ReceivedFolder() without Downloads = %q, %v; want ErrNoInbox", dir, err)
	}
}
