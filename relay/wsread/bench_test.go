package wsread

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// echo is a Handler that writes every message back through gorilla.
type echo struct{ ws *websocket.Conn }

func (e *echo) Message(data []byte, binary bool) error {
	return e.ws.WriteMessage(websocket.TextMessage, data)
}
func (e *echo) Ping([]byte)   {}
func (e *echo) End(err error) { e.ws.Close() }

// BenchmarkRoundTrip measures one message to the server and its echo
// back, on loopback: "linger" is a socket in use (its reader waits in Go's
// netpoller for the next message), "poller" a socket whose every message
// comes through the epoll set and a new reader goroutine, as an idle
// socket's does.
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []struct {
		name   string
		linger time.Duration
	}{{"linger", linger}, {"poller", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			lingerFor = mode.linger
			defer func() { lingerFor = linger }()
			up := websocket.Upgrader{ReadBufferSize: 1, WriteBufferSize: 1024}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				New(ws.NetConn(), &echo{ws}, 1<<20, time.Minute).Start()
			}))
			defer srv.Close()
			ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer ws.Close()
			msg := []byte(`{"type":"command","id":"c1","device":"d_1","name":"beep"}`)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := ws.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
