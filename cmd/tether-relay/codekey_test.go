package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-desktop/tether/internal/pgtest"
	"github.com/tether-desktop/tether/relay/server"
	"github.com/tether-desktop/tether/relay/store"
)

// TestCodeKeyShared: nodes on one PostgreSQL database with their own data
// directories get the same pairing-code key from the store, unless a node
// has a code.key file, which wins; the embedded store keeps its file.
func TestCodeKeyShared(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keyOf := func(data, storeURL string) []byte {
		t.Helper()
		st, err := store.OpenURL(ctx, data, storeURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		k, err := codeKey(ctx, config{data: data, storeURL: storeURL}, st, log)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, b := keyOf(t.TempDir(), url), keyOf(t.TempDir(), url)
	if len(a) < 16 || !bytes.Equal(a, b) {
		t.Fatalf("two nodes got keys %x and %x", a, b)
	}
	withFile := t.TempDir()
	fileKey, err := server.LoadOrCreateKey(filepath.Join(withFile, "code.key"))
	if err != nil {
		t.Fatal(err)
	}
	if k := keyOf(withFile, url); !bytes.Equal(k, fileKey) || bytes.Equal(k, a) {
		t.Fatalf("with a code.key file the key is %x, want the file's %x", k, fileKey)
	}
	sqlite := t.TempDir()
	k := keyOf(sqlite, "")
	if _, err := os.Stat(filepath.Join(sqlite, "code.key")); err != nil || bytes.Equal(k, a) {
		t.Fatalf("the embedded store's key: %v (file: %v)", k, err)
	}
}
