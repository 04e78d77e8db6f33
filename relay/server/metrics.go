package server

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// metrics counts what the relay does, for /metrics in the Prometheus text
// format. Safe for concurrent use.
type metrics struct {
	agents, clients atomic.Int64 // open sockets by kind

	mu       sync.Mutex
	relayed  map[string]uint64 // frames forwarded, by message type
	commands map[string]uint64 // commands answered, by result code ("ok" for success)
	dropped  map[string]uint64 // frames not delivered, by reason
	closed   map[string]uint64 // sockets closed by the relay, by reason
}

func newMetrics() *metrics {
	return &metrics{relayed: map[string]uint64{}, commands: map[string]uint64{}, dropped: map[string]uint64{}, closed: map[string]uint64{}}
}

func (m *metrics) inc(set map[string]uint64, label string, n uint64) {
	m.mu.Lock()
	set[label] += n
	m.mu.Unlock()
}

func (m *metrics) relay(typ string, n int) { m.inc(m.relayed, typ, uint64(n)) }
func (m *metrics) command(code string)     { m.inc(m.commands, code, 1) }
func (m *metrics) drop(reason string)      { m.inc(m.dropped, reason, 1) }
func (m *metrics) close(reason string)     { m.inc(m.closed, reason, 1) }

// ServeHTTP writes every metric in the Prometheus text exposition format.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintln(w, "# HELP tether_connections Open WebSocket connections by kind.")
	fmt.Fprintln(w, "# TYPE tether_connections gauge")
	fmt.Fprintf(w, "tether_connections{kind=\"agent\"} %d\n", m.agents.Load())
	fmt.Fprintf(w, "tether_connections{kind=\"client\"} %d\n", m.clients.Load())
	m.mu.Lock()
	defer m.mu.Unlock()
	writeCounter(w, "tether_messages_relayed_total", "Frames forwarded between agents and clients, by type.", "type", m.relayed)
	writeCounter(w, "tether_commands_total", "Commands answered, by result code (ok on success).", "code", m.commands)
	writeCounter(w, "tether_frames_dropped_total", "Frames not delivered, by reason.", "reason", m.dropped)
	writeCounter(w, "tether_sockets_closed_total", "Sockets the relay closed, by reason.", "reason", m.closed)
}

func writeCounter(w io.Writer, name, help, label string, values map[string]uint64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s{%s=%q} %d\n", name, label, k, values[k])
	}
}
