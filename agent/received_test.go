package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// downloadsDesktop is a fakeDesktop whose Downloads folder is dir.
type downloadsDesktop struct {
	*fakeDesktop
	dir string
}

func (d downloadsDesktop) DownloadsDir() (string, error) { return d.dir, nil }

// TestInboxWiring: receive_files gets the Tether folder in the desktop's
// Downloads and config.json's size limit, the .part files a killed run
// left are removed at start, and a file received notifies the user.
func TestInboxWiring(t *testing.T) {
	conf, dl := t.TempDir(), t.TempDir()
	if err := SaveSettings(conf, Settings{MaxFileMiB: 2}); err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(dl, InboxFolder)
	os.MkdirAll(inbox, 0o700)
	stale := filepath.Join(inbox, ".tether-0011223344556677.part")
	os.WriteFile(stale, []byte("half"), 0o600)
	desk := &fakeDesktop{}
	cfg := Config{ConfigDir: conf, Desktop: downloadsDesktop{desk, dl}}
	if err := cfg.complete(); err != nil {
		t.Fatal(err)
	}
	if cfg.Inbox != inbox || cfg.MaxFileSize != 2<<20 {
		t.Fatalf("inbox %q, limit %d; want %q, 2 MiB", cfg.Inbox, cfg.MaxFileSize, inbox)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Fatal("a stale part file survived the start")
	}
	var rf *commands.Command
	for i := range cfg.Commands {
		if cfg.Commands[i].Spec.Name == protocol.CommandReceiveFiles {
			rf = &cfg.Commands[i]
		}
	}
	if rf == nil || rf.Receiver == nil || !rf.DefaultOn || rf.Unavailable() != "" {
		t.Fatalf("receive_files not wired: %+v", rf)
	}
	if max := *rf.Spec.Args[1].Max; max != 2<<20 {
		t.Fatalf("advertised size max %v, want 2 MiB", max)
	}
	sink, err := rf.Receiver.Begin(context.Background(), "Firefox on Linux", "note.txt", 5)
	if err != nil {
		t.Fatal(err)
	}
	sink.Write([]byte("hello"))
	sum := sha256.Sum256([]byte("hello"))
	data, err := sink.Commit(context.Background(), hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) == "" || len(desk.notes) != 1 || desk.notes[0] != "note.txt from Firefox on Linux" {
		t.Fatalf("result %s, notifications %q", data, desk.notes)
	}

	// Without a Downloads folder the command exists but is unavailable.
	cfg = Config{ConfigDir: t.TempDir(), Desktop: &fakeDesktop{}}
	if err := cfg.complete(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Commands {
		if c.Spec.Name == protocol.CommandReceiveFiles && (c.Receiver != nil || c.Unavailable() == "") {
			t.Fatal("receive_files without a folder is not unavailable")
		}
	}
}
