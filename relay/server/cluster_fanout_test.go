package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
)

// slowClient opens a client socket of session on r whose receive buffer is
// small, as is the relay's send buffer of it (so the relay's writes to it
// block once it stops reading), reads until every device in devs is shown
// online, and returns it.
func slowClient(t *testing.T, r *relay, session string, devs []string) *wsPeer {
	t.Helper()
	nd := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = setRcvbuf(fd, 8<<10) })
		return err
	}}
	d := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: hangGuard}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(r.hs.URL, "http")+"/ws/client", map[string][]string{"Authorization": {"Bearer " + session}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsPeer{t: t, conn: conn}
	c.next(protocol.TypeWelcome)
	waitOnline(c, devs)
	// The relay's send buffer of this socket too, so that its writer
	// blocks after a few KB rather than the megabytes autotuning allows.
	h := r.srv.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cs := range h.sessions {
		for rc := range cs {
			if rc.out.RemoteAddr().String() == conn.LocalAddr().String() {
				if err := rc.out.Conn.(*net.TCPConn).SetWriteBuffer(1); err != nil {
					t.Fatal(err)
				}
				return c
			}
		}
	}
	t.Fatalf("the relay has no socket from %s", conn.LocalAddr())
	return nil
}

// waitOnline reads presence frames until every device in devs was shown
// online (each once at least, in any order).
func waitOnline(c *wsPeer, devs []string) {
	c.t.Helper()
	online := map[string]bool{}
	for n := 0; n < len(devs); {
		m := c.next(protocol.TypePresence)
		var pres protocol.Presence
		if err := json.Unmarshal(m.Data, &pres); err != nil {
			c.t.Fatal(err)
		}
		if pres.Online && !online[m.Device] && slices.Contains(devs, m.Device) {
			online[m.Device] = true
			n++
		}
	}
}

// readFanout reads c until it has the "done" event of every device in
// devs and, for each, the telemetry numbered last; it fails the test when
// the socket closes first (a slow reader closed for overflow) or a device's
// telemetry comes out of order. The frames are read with bytes.Index, not
// decoded (the test runs under -race).
func readFanout(t *testing.T, name string, c *wsPeer, devs []string, last int) {
	t.Helper()
	done, final := map[string]bool{}, map[string]bool{}
	seq := map[string]int{}
	c.conn.SetReadDeadline(time.Now().Add(3 * hangGuard))
	for len(done) < len(devs) || len(final) < len(devs) {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatalf("%s: read: %v (done events from %d of %d devices, last telemetry from %d)", name, err, len(done), len(devs), len(final))
		}
		dev := ""
		for _, d := range devs {
			if bytes.Contains(b, []byte(`"device":"`+d+`"`)) {
				dev = d
			}
		}
		switch {
		case bytes.Contains(b, []byte(`"type":"event"`)) && dev != "":
			done[dev] = true
		case bytes.Contains(b, []byte(`"type":"telemetry"`)) && dev != "":
			i := bytes.Index(b, []byte(`"seq":`))
			if i < 0 {
				t.Fatalf("%s: telemetry without seq: %.200s", name, b)
			}
			var n int
			fmt.Sscanf(string(b[i+len(`"seq":`):min(len(b), i+16)]), "%d", &n)
			if p, ok := seq[dev]; ok && n <= p {
				t.Fatalf("%s: telemetry %d of %s after %d", name, n, dev, p)
			}
			seq[dev] = n
			if n == last {
				final[dev] = true
			}
		}
	}
}

// TestClusterSlowWatchersKeepRemoteTelemetry runs 3 nodes, an agent on
// each and, on each node, two client sockets of one session watching all
// three agents (one on the node, two elsewhere): one reads all along, the
// other stops reading while the agents send a burst of large telemetry
// frames, then reads again. Telemetry that crossed nodes must be coalesced
// for the slow socket as on the agent's own node (only the newest of each
// device waits), so every socket stays open and gets the last telemetry and
// the final event of every device. The agents write their frames in the
// shapes the relay forwards as sent: without device and ts (as the bench's
// agents do; the relay adds them in front), with type last, and as the real
// agent does (type, device, ts, data). Before the fix, a node recognised
// telemetry from another node only when "type" came first, queued the
// rest as frames that must all arrive, and closed the slow socket with
// 1008 once its queue overflowed: on 3 nodes the bench's fan-out fell to
// nothing.
func TestClusterSlowWatchersKeepRemoteTelemetry(t *testing.T) {
	nodes, _ := newClusterNodes(t, 3, func(c *Config) {
		c.SendQueue, c.SendQueueBytes = 64, 256<<10
		c.AgentFrameRate, c.AgentFrameBurst = 1e6, 1e6 // this test is about slow readers, not floods
		c.WriteTimeout = time.Minute
	})
	var devs, toks []string
	var agents []*wsPeer
	for _, n := range nodes {
		dev, tok := n.register("box")
		devs, toks = append(devs, dev), append(toks, tok)
		agents = append(agents, n.agent(tok))
	}
	sess := ""
	for i, n := range nodes {
		sess = n.pair(n.code(toks[i]), sess)
	}
	var slow, fast []*wsPeer
	for _, n := range nodes {
		slow = append(slow, slowClient(t, n, sess, devs))
		c := n.client(sess)
		waitOnline(c, devs)
		fast = append(fast, c)
	}
	for _, a := range agents {
		a.waitWatch(6) // the sockets of every node count, so frames cross
	}

	// Each agent sends 100 frames of 4 KB: 800 KB from the other two nodes
	// to each slow socket, over twice its queue's 256 KB and the few KB its
	// send and receive buffers hold.
	const frames = 100
	pad := strings.Repeat("x", 4<<10)
	ts := protocol.Timestamp(time.Now())
	shapes := []func(dev string, k int) string{
		func(_ string, k int) string {
			return fmt.Sprintf(`{"type":"telemetry","data":{"seq":%d,"pad":"%s"}}`, k, pad)
		},
		func(_ string, k int) string {
			return fmt.Sprintf(`{"ts":"%s","data":{"seq":%d,"pad":"%s"},"type":"telemetry"}`, ts, k, pad)
		},
		func(dev string, k int) string {
			return fmt.Sprintf(`{"type":"telemetry","device":"%s","ts":"%s","data":{"seq":%d,"pad":"%s"}}`, dev, ts, k, pad)
		},
	}
	errs := make(chan error, len(agents))
	for i, a := range agents {
		go func() {
			a.conn.SetWriteDeadline(time.Now().Add(hangGuard))
			for k := range frames {
				if err := a.conn.WriteMessage(websocket.TextMessage, []byte(shapes[i](devs[i], k))); err != nil {
					errs <- fmt.Errorf("agent %d: %w", i, err)
					return
				}
			}
			errs <- a.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"event","data":{"kind":"done"}}`))
		}()
	}
	for range agents {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A node passes a device's frames to all its sockets at once, in
	// order: when the reading socket of a node has every device's final
	// event, the slow one of that node has been given every frame too.
	for i, c := range fast {
		readFanout(t, fmt.Sprintf("reading client on node %d", i), c, devs, frames-1)
	}
	for i, c := range slow {
		readFanout(t, fmt.Sprintf("slow client on node %d", i), c, devs, frames-1)
	}
	for i, n := range nodes {
		resp, err := http.Get(n.hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "\n"+`tether_sockets_closed_total{reason="too_slow"} 0`+"\n") {
			t.Errorf("node %d closed sockets as too slow:\n%s", i, body)
		}
	}
}

// TestIsTelemetry checks how a node tells telemetry from other live frames
// of another node's agents, whatever the order of their keys.
func TestIsTelemetry(t *testing.T) {
	for frame, want := range map[string]bool{
		`{"type":"telemetry","device":"d_1","ts":"t","data":{}}`:      true, // the real agent's
		`{"device":"d_1","type":"telemetry","data":{}}`:               true, // device added in front
		`{"device":"d_1","ts":"t","type":"telemetry","data":{}}`:      true, // device and ts added
		`{"ts":"t","data":{"cpu_percent":1},"type":"telemetry"}`:      true, // type last: the envelope is read
		`{"data":{"type":"event"},"device":"d_1","type":"telemetry"}`: true,
		`{"type":"event","device":"d_1","data":{"kind":"x"}}`:         false,
		`{"device":"d_1","ts":"t","type":"event","data":{}}`:          false,
		`{"data":{"type":"telemetry"},"type":"event"}`:                false, // a nested type does not count
		`{"device":"d_1","data":{"type":"telemetry"},"type":"event"}`: false,
		`{"type":"telemetryx","data":{}}`:                             false,
		`{"type":"presence","device":"d_1","data":{}}`:                false,
		``:                false,
		`[]`:              false,
		`{"device":"d_1"`: false,
	} {
		if got := isTelemetry([]byte(frame)); got != want {
			t.Errorf("isTelemetry(%s) = %v, want %v", frame, got, want)
		}
	}
}
