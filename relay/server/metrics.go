package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// otherLabel is the label value every value outside a counter's known set is
// counted under, so that nobody outside the relay can add a label.
const otherLabel = "other"

// counterVec is a Prometheus counter with one label whose values are fixed
// when it is made: a value outside them counts as "other". Its memory never
// grows and adding takes no lock. Safe for concurrent use.
type counterVec struct {
	name, help, label string
	keys              []string       // the known values, then "other"
	index             map[string]int // read-only after newCounterVec
	vals              []atomic.Uint64
}

func newCounterVec(name, help, label string, known ...string) *counterVec {
	v := &counterVec{name: name, help: help, label: label, index: map[string]int{}}
	for _, k := range append(known, otherLabel) {
		if _, dup := v.index[k]; dup {
			continue
		}
		v.index[k] = len(v.keys)
		v.keys = append(v.keys, k)
	}
	v.vals = make([]atomic.Uint64, len(v.keys))
	return v
}

// add counts n under key, or under "other" when key is not a known value.
func (v *counterVec) add(key string, n uint64) {
	i, ok := v.index[key]
	if !ok {
		i = v.index[otherLabel]
	}
	v.vals[i].Add(n)
}

// get returns the count under key (or "other"); for tests.
func (v *counterVec) get(key string) uint64 {
	i, ok := v.index[key]
	if !ok {
		i = v.index[otherLabel]
	}
	return v.vals[i].Load()
}

func (v *counterVec) write(b *bytes.Buffer) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n", v.name, v.help, v.name)
	for i, k := range v.keys {
		fmt.Fprintf(b, "%s{%s=%q} %d\n", v.name, v.label, k, v.vals[i].Load())
	}
}

// resultCodes are the error codes a command's result is counted under; an
// agent's own code outside them counts as "other".
var resultCodes = []string{"ok",
	protocol.CodeBadRequest, protocol.CodeUnauthorized, protocol.CodeForbidden, protocol.CodeNotFound,
	protocol.CodeNotPaired, protocol.CodeDeviceOffline, protocol.CodeUnknownCommand, protocol.CodeNotAllowed,
	protocol.CodeInvalidArgs, protocol.CodeRateLimited, protocol.CodeTimeout, protocol.CodePaused,
	protocol.CodeUnavailable, protocol.CodeTooLarge, protocol.CodeInternal}

// Reasons a request or socket was refused by a limit, the labels of
// tether_refused_total.
const (
	refusePairAddr       = "pair_address"        // pairing attempts from one address (or /64)
	refusePairCode       = "pair_code"           // attempts with one code
	refusePairRelay      = "pair_relay"          // the relay-wide budget of failed pairings is spent
	refuseCodesDevice    = "codes_device"        // pairing codes asked for by one device
	refuseRegisterAddr   = "register_address"    // registrations from one address
	refuseRegisterRelay  = "register_relay"      // the relay-wide budget of open registrations is spent
	refuseSocketSession  = "socket_session"      // client sockets of one session
	refuseSocketAddr     = "socket_address"      // client sockets from one address
	refuseSocketsClients = "socket_relay_client" // the relay's ceiling of client sockets
	refuseSocketsAll     = "socket_relay_all"    // the relay's ceiling of all sockets
)

// metrics counts what the relay does, for /metrics in the Prometheus text
// format. Every label set is fixed, so its size does not depend on what
// peers send, and nothing in it takes a lock. Safe for concurrent use.
type metrics struct {
	agents, clients atomic.Int64 // open sockets by kind

	relayed  *counterVec // frames forwarded, by message type
	commands *counterVec // commands answered, by result code ("ok" for success)
	dropped  *counterVec // frames not delivered, by reason
	closed   *counterVec // sockets closed by the relay, by reason
	refused  *counterVec // requests and sockets refused by a limit, by which
	pairFail atomic.Uint64
	// brokerDropped reads the broker's count of messages lost between nodes.
	brokerDropped func() int64
}

// Reasons of frames and messages the broker could not take (its queue was
// full or its transport down): live frames for other nodes, and everything
// else that crosses nodes.
const (
	dropBrokerFrame   = "broker_frame"
	dropBrokerControl = "broker_control"
)

// relayedFileChunk is the type label of the binary chunks of files.
const relayedFileChunk = "file_chunk"

func newMetrics() *metrics {
	return &metrics{
		relayed: newCounterVec("tether_messages_relayed_total", "Frames forwarded between agents and clients, by type.", "type",
			protocol.TypeTelemetry, protocol.TypeEvent, protocol.TypePresence, protocol.TypeCommand, protocol.TypeResult,
			protocol.TypeFileBegin, relayedFileChunk),
		commands: newCounterVec("tether_commands_total", "Commands answered, by result code (ok on success; an agent's own code counts as other).", "code", resultCodes...),
		dropped: newCounterVec("tether_frames_dropped_total", "Frames not delivered, by reason.", "reason",
			"coalesced", "queue_full", "result_client_gone", "result_unknown_id", dropBrokerFrame, dropBrokerControl),
		closed: newCounterVec("tether_sockets_closed_total", "Sockets the relay closed, by reason.", "reason",
			"flood", "no_hello", "replaced", "too_slow", "write_failed"),
		refused: newCounterVec("tether_refused_total", "Requests and sockets refused by a limit (429 or 503), by limit.", "limit",
			refusePairAddr, refusePairCode, refusePairRelay, refuseCodesDevice, refuseRegisterAddr, refuseRegisterRelay,
			refuseSocketSession, refuseSocketAddr, refuseSocketsClients, refuseSocketsAll),
	}
}

func (m *metrics) relay(typ string, n int) { m.relayed.add(typ, uint64(n)) }
func (m *metrics) command(code string)     { m.commands.add(code, 1) }
func (m *metrics) drop(reason string)      { m.dropped.add(reason, 1) }
func (m *metrics) close(reason string)     { m.closed.add(reason, 1) }
func (m *metrics) refuse(limit string)     { m.refused.add(limit, 1) }

// render writes every metric in the Prometheus text exposition format.
func (m *metrics) render() []byte {
	var b bytes.Buffer
	b.WriteString("# HELP tether_connections Open WebSocket connections by kind.\n# TYPE tether_connections gauge\n")
	fmt.Fprintf(&b, "tether_connections{kind=\"agent\"} %d\n", m.agents.Load())
	fmt.Fprintf(&b, "tether_connections{kind=\"client\"} %d\n", m.clients.Load())
	m.relayed.write(&b)
	m.commands.write(&b)
	m.dropped.write(&b)
	m.closed.write(&b)
	m.refused.write(&b)
	b.WriteString("# HELP tether_pairing_failures_total Pairing codes tried that did not exist or had expired.\n# TYPE tether_pairing_failures_total counter\n")
	b.WriteString("tether_pairing_failures_total " + strconv.FormatUint(m.pairFail.Load(), 10) + "\n")
	if m.brokerDropped != nil {
		b.WriteString("# HELP tether_broker_dropped_total Messages between relay nodes this node could not send (queue full, NATS down) or lost on receipt (slow consumer).\n# TYPE tether_broker_dropped_total counter\n")
		b.WriteString("tether_broker_dropped_total " + strconv.FormatInt(m.brokerDropped(), 10) + "\n")
	}
	return b.Bytes()
}

// metricsWriteTimeout bounds the write of one /metrics answer.
const metricsWriteTimeout = 10 * time.Second

// ServeHTTP writes every metric in the Prometheus text exposition format.
// The text is built first, with no lock held, and then written under a
// write deadline: a reader that never reads holds nothing but its own
// connection, and that for metricsWriteTimeout at most.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	body := m.render()
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(metricsWriteTimeout))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
