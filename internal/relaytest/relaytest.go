// Package relaytest runs the real relay in a test's own process: relay/server
// on a loopback listener with a fresh SQLite store, for tests of the pieces
// that talk to it (the CLI, the tray). It is for tests only.
package relaytest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tether-desktop/tether/relay/server"
	"github.com/tether-desktop/tether/relay/store"
)

// Start runs a relay until the test ends and returns its URL. It does not block.
func Start(t testing.TB) string {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	srv, err := server.New(server.Config{
		Store: st, PublicURL: "http://" + hs.Listener.Addr().String(),
		CodeKey: bytes.Repeat([]byte{7}, 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		st.Close()
	})
	return hs.URL
}
