package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/broker"
	"github.com/tether-desktop/tether/relay/store"
)

// countingBroker counts the frames a node publishes, and can hand its
// node an event as the broker itself would (local).
type countingBroker struct {
	broker.Broker
	frames  atomic.Int64
	handler broker.Handler
}

func (b *countingBroker) Start(h broker.Handler, seq func() uint64) error {
	b.handler = h
	return b.Broker.Start(h, seq)
}

// local delivers e (Disconnected, Reconnected) to the node.
func (b *countingBroker) local(e broker.Event) { b.handler(e) }

func (b *countingBroker) PublishFrame(device string, frame []byte) error {
	b.frames.Add(1)
	return b.Broker.PublishFrame(device, frame)
}

// newCluster starts n relay nodes in this process on one broker.Bus,
// sharing one SQLite store, as a cluster shares PostgreSQL.
func newClusterNodes(t *testing.T, n int, edit ...func(*Config)) ([]*relay, []*countingBroker) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bus := broker.NewBus()
	var nodes []*relay
	var brokers []*countingBroker
	for i := range n {
		br := &countingBroker{Broker: bus.Node(string(rune('a' + i)))}
		t.Cleanup(func() { br.Close() })
		nodes = append(nodes, serveRelay(t, st, func(c *Config) {
			c.Broker = br
			for _, e := range edit {
				e(c)
			}
		}))
		brokers = append(brokers, br)
	}
	return nodes, brokers
}

// waitPresenceWhere reads presence frames of device until ok holds of one.
func (p *wsPeer) waitPresenceWhere(device string, ok func(protocol.Presence) bool) protocol.Presence {
	p.t.Helper()
	for {
		m := p.next(protocol.TypePresence)
		var pres protocol.Presence
		if err := json.Unmarshal(m.Data, &pres); err != nil {
			p.t.Fatal(err)
		}
		if m.Device == device && ok(pres) {
			return pres
		}
	}
}

// waitPresence reads presence frames of device until one has online == want.
func (p *wsPeer) waitPresence(device string, online bool) protocol.Presence {
	p.t.Helper()
	return p.waitPresenceWhere(device, func(pr protocol.Presence) bool { return pr.Online == online && !pr.Removed })
}

// waitRemoved reads presence frames until one says device was removed.
func (p *wsPeer) waitRemoved(device string) {
	p.t.Helper()
	p.waitPresenceWhere(device, func(pr protocol.Presence) bool { return pr.Removed })
}

// across registers a device on a, connects its agent there, pairs a new
// session through b and opens a client socket of it on c, which sees the
// device online.
func across(a, b, c *relay) (dev, tok string, agent *wsPeer, sess string, client *wsPeer) {
	dev, tok = a.register("box")
	agent = a.agent(tok)
	sess = b.pair(a.code(tok), "")
	client = c.client(sess)
	client.waitPresence(dev, true)
	return dev, tok, agent, sess, client
}

// TestClusterCommandAcrossNodes checks that a client on one node sees the
// presence, telemetry and events of an agent on another, that its command
// gets exactly one result through the agent's node, and that it gets
// device_offline once the agent is gone from every node.
func TestClusterCommandAcrossNodes(t *testing.T) {
	nodes, brokers := newClusterNodes(t, 2)
	a, b := nodes[0], nodes[1]
	dev, _, agent, _, client := across(a, b, b) // a code shown by one node works on another
	if _, hello := b.srv.hub.Live(dev); hello == nil || len(hello.Capabilities()) != 1 || hello.Capabilities()[0] != "beep" {
		t.Fatalf("hello across nodes = %+v", hello)
	}
	agent.waitWatch(1) // the watcher on node b counts

	agent.send(protocol.Message{Type: protocol.TypeTelemetry, Data: protocol.MustData(protocol.Telemetry{CPUPercent: 42})})
	if tm := client.next(protocol.TypeTelemetry); tm.Device != dev || !strings.Contains(string(tm.Data), `"cpu_percent":42`) {
		t.Fatalf("telemetry across nodes = %+v", tm)
	}

	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c1", Device: dev, Name: "beep", Args: json.RawMessage(`{"frequency_hz":440}`)})
	cmd := agent.next(protocol.TypeCommand)
	if cmd.ID == "c1" || cmd.Name != "beep" || cmd.Device != dev {
		t.Fatalf("forwarded command = %+v", cmd)
	}
	agent.send(protocol.Result(cmd.ID, dev, json.RawMessage(`{"x":1}`), nil))
	agent.send(protocol.Result(cmd.ID, dev, nil, nil)) // a second result is not delivered
	res := client.next(protocol.TypeResult)
	if res.ID != "c1" || res.OK == nil || !*res.OK || string(res.Data) != `{"x":1}` {
		t.Fatalf("result across nodes = %+v", res)
	}
	// Checks happen before anything crosses: a switched-off command.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c2", Device: dev, Name: "notify"})
	if res := client.next(protocol.TypeResult, protocol.TypeError); res.ID != "c2" || res.Error == nil || res.Error.Code != protocol.CodeNotAllowed {
		t.Fatalf("switched-off command across nodes = %+v", res)
	}
	// A command the agent never answers: exactly one result, and it is not ok.
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c3", Device: dev, Name: "beep"})
	agent.next(protocol.TypeCommand)
	agent.conn.Close()
	if res := client.next(protocol.TypeResult); res.ID != "c3" || res.Error == nil || res.Error.Code != protocol.CodeDeviceOffline {
		t.Fatalf("command pending when the agent left = %+v", res)
	}
	client.waitPresence(dev, false)
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c4", Device: dev, Name: "beep"})
	if res := client.next(protocol.TypeResult); res.ID != "c4" || res.Error == nil || res.Error.Code != protocol.CodeDeviceOffline {
		t.Fatalf("command to a device on no node = %+v", res)
	}
	if n := brokers[1].frames.Load(); n != 0 {
		t.Fatalf("node b, holding no agent, published %d frames", n)
	}
	resp, err := http.Get(b.hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\ntether_broker_dropped_total 0\n") {
		t.Fatalf("/metrics of a cluster node without the broker's drops:\n%s", body)
	}
}

// TestClusterCommandWhileTheLinkIsDown: from the moment a node is told its
// link to the other nodes is lost until it hears the device's node again
// after the link came back, a command or a file for a device on another
// node is refused with unavailable at once and nothing is sent across. The
// bus still carries messages here, as NATS does once it is connected again
// before the node is told: a message sent then can reach no one (the other
// node not back yet), and was answered only by the timeout, 20 s later
// (TestClusterNATSRestart failed so, one run in eight under load).
func TestClusterCommandWhileTheLinkIsDown(t *testing.T) {
	nodes, brokers := newClusterNodes(t, 2)
	dev, tok := nodes[0].register("box")
	agent := nodes[0].agentWithFiles(tok, 1<<20)
	client := nodes[1].client(nodes[1].pair(nodes[0].code(tok), ""))
	client.waitPresence(dev, true)
	beep := func(id string, hz int) {
		client.send(protocol.Message{Type: protocol.TypeCommand, ID: id, Device: dev, Name: "beep",
			Args: json.RawMessage(fmt.Sprintf(`{"frequency_hz":%d}`, hz))})
	}
	brokers[1].local(broker.Event{Kind: broker.Disconnected})
	beep("down", 111)
	if res := client.next(protocol.TypeResult); res.ID != "down" || res.Error == nil || res.Error.Code != protocol.CodeUnavailable {
		t.Fatalf("command across with the link down = %+v", res)
	}
	client.send(protocol.Message{Type: protocol.TypeFileBegin, ID: "f", Device: dev, Data: protocol.MustData(protocol.FileBegin{Name: "a", Size: 5})})
	if res := client.next(protocol.TypeResult); res.ID != "f" || res.Error == nil || res.Error.Code != protocol.CodeUnavailable {
		t.Fatalf("file across with the link down = %+v", res)
	}

	brokers[1].local(broker.Event{Kind: broker.Reconnected})
	// Refused until node a is heard again (its heartbeat, within 2 s),
	// then carried; the first command the agent gets is that one, none
	// sent while the link was down.
	h := nodes[1].srv.hub
	waitFor(t, "node a heard again", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.unconfirmed) == 0
	})
	beep("up", 440)
	cmd := agent.next(protocol.TypeCommand)
	if !strings.Contains(string(cmd.Args), "440") {
		t.Fatalf("the agent got %s first", cmd.Args)
	}
	agent.send(protocol.Result(cmd.ID, dev, nil, nil))
	if res := client.next(protocol.TypeResult); res.ID != "up" || res.OK == nil || !*res.OK {
		t.Fatalf("command across after the link came back = %+v", res)
	}
}

// TestClusterFramesOnlyWhileWatched checks that a node publishes nothing
// for a device no other node watches.
func TestClusterFramesOnlyWhileWatched(t *testing.T) {
	nodes, brokers := newClusterNodes(t, 2)
	a, b := nodes[0], nodes[1]
	dev, tok := a.register("box")
	agent := a.agent(tok)
	sess := b.pair(a.code(tok), "")
	local := a.client(sess) // a watcher on the agent's own node
	local.waitPresence(dev, true)
	agent.waitWatch(1)
	for range 5 {
		agent.send(protocol.Message{Type: protocol.TypeTelemetry, Data: protocol.MustData(protocol.Telemetry{CPUPercent: 1})})
		local.next(protocol.TypeTelemetry)
	}
	if n := brokers[0].frames.Load(); n != 0 {
		t.Fatalf("%d frames published while no other node watched", n)
	}
	remote := b.client(sess)
	remote.waitPresence(dev, true)
	agent.waitWatch(2)
	agent.send(protocol.Message{Type: protocol.TypeTelemetry, Data: protocol.MustData(protocol.Telemetry{CPUPercent: 2})})
	remote.next(protocol.TypeTelemetry)
	if brokers[0].frames.Load() == 0 {
		t.Fatal("no frame published while node b watched")
	}
	remote.conn.Close()
	agent.waitWatch(1) // node b's interest is withdrawn at once
	before := brokers[0].frames.Load()
	agent.send(protocol.Message{Type: protocol.TypeTelemetry, Data: protocol.MustData(protocol.Telemetry{CPUPercent: 3})})
	local.next(protocol.TypeTelemetry)
	if n := brokers[0].frames.Load(); n != before {
		t.Fatalf("%d frames published after node b stopped watching", n-before)
	}
}

// TestClusterUnpairCutsOtherNodes checks that unpairing on one node stops
// a socket of the session on another node from seeing the device at once.
func TestClusterUnpairCutsOtherNodes(t *testing.T) {
	nodes, _ := newClusterNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	dev, tok, agent, sess, client := across(a, b, c)
	agent.waitWatch(1)
	start := time.Now()
	if resp := b.do("DELETE", "/api/v1/pairings/"+dev, sess, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("unpair: %d", resp.StatusCode)
	}
	client.waitRemoved(dev)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("unpair reached the other node after %s", d)
	}
	agent.waitWatch(0)
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c1", Device: dev, Name: "beep"})
	if res := client.next(protocol.TypeResult); res.Error == nil || res.Error.Code != protocol.CodeNotPaired {
		t.Fatalf("command after unpair on another node = %+v", res)
	}
	// Unpair-all from the device, on yet another node, cuts a new pairing too.
	sess2 := c.pair(a.code(tok), "")
	client2 := b.client(sess2)
	client2.waitPresence(dev, true)
	if resp := c.do("DELETE", "/api/v1/device/pairings", tok, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("unpair all: %d", resp.StatusCode)
	}
	client2.waitRemoved(dev)
}

// TestClusterAgentReplacedAcrossNodes checks that an agent connecting to a
// second node closes its older connection on the first, and that the
// device stays online for clients on a third.
func TestClusterAgentReplacedAcrossNodes(t *testing.T) {
	nodes, _ := newClusterNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	dev, tok, old, _, client := across(a, c, c)
	newer := b.agent(tok)
	old.conn.SetReadDeadline(time.Now().Add(hangGuard))
	for {
		_, _, err := old.conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != CloseReplaced {
				t.Fatalf("older connection closed with %d, want %d", ce.Code, CloseReplaced)
			}
			break
		}
		if err != nil {
			t.Fatalf("older connection: %v", err)
		}
	}
	waitFor(t, "node c to know the device is on node b", func() bool {
		c.srv.hub.mu.Lock()
		defer c.srv.hub.mu.Unlock()
		hello, node := c.srv.hub.ownerLocked(dev)
		return hello != nil && node == b.srv.hub.node
	})
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c1", Device: dev, Name: "beep"})
	cmd := newer.next(protocol.TypeCommand)
	newer.send(protocol.Result(cmd.ID, dev, nil, nil))
	if res := client.next(protocol.TypeResult); res.ID != "c1" || res.OK == nil || !*res.OK {
		t.Fatalf("result through the newer connection = %+v", res)
	}
	if online, _ := c.srv.hub.Live(dev); !online {
		t.Fatal("device offline on node c after the agent moved")
	}
}

// pairDuringRead is a store that, on the first read of a session's paired
// devices, pairs another device with it (store and hub) before answering:
// a pairing made between a client socket's read of its devices and its
// registration in the hub.
type pairDuringRead struct {
	store.Store
	srv    *Server
	device store.Device
	done   atomic.Bool
}

func (s *pairDuringRead) PairedDevices(ctx context.Context, session string) ([]store.Device, error) {
	devices, err := s.Store.PairedDevices(ctx, session)
	if err == nil && s.srv != nil && s.done.CompareAndSwap(false, true) {
		if err := s.Store.AddPairing(ctx, session, s.device.ID, time.Now()); err != nil {
			return nil, err
		}
		s.srv.router.Paired(session, s.device)
	}
	return devices, err
}

// TestClientSocketSeesPairingDuringOpen checks that a pairing made while a
// client socket opens (after it read its devices, before the hub knew it)
// still reaches that socket.
func TestClientSocketSeesPairingDuringOpen(t *testing.T) {
	var st *pairDuringRead
	r := newRelay(t, func(c *Config) {
		st = &pairDuringRead{Store: c.Store}
		c.Store = st
	})
	_, tok1 := r.register("one")
	dev2, tok2 := r.register("two")
	sess := r.pair(r.code(tok1), "")
	d2, err := st.Store.Device(context.Background(), dev2)
	if err != nil {
		t.Fatal(err)
	}
	st.device, st.srv = d2, r.srv
	r.agent(tok2)
	client := r.client(sess)
	client.waitPresence(dev2, true)
}

// TestClusterPairFailBudgetShared checks that the relay-wide budget of
// failed pairings is the cluster's, not each node's: once failures on one
// node spent it, another node refuses after at most one failure of its own.
func TestClusterPairFailBudgetShared(t *testing.T) {
	nodes, _ := newClusterNodes(t, 2, func(c *Config) { c.PairFailRate, c.PairFailBurst = 1e-9, 3 })
	try := func(r *relay, i int) int {
		var out map[string]any
		return r.do("POST", "/api/v1/pairings", "", map[string]string{"code": fmt.Sprintf("AAAA-%04d", 2222+i)}, &out).StatusCode
	}
	for i := range 3 {
		if code := try(nodes[0], i); code != 404 {
			t.Fatalf("failure %d on node a: %d, want 404", i, code)
		}
	}
	if code := try(nodes[0], 3); code != 429 {
		t.Fatalf("node a after the budget: %d, want 429", code)
	}
	accepted := 0
	for i := range 3 {
		if try(nodes[1], 10+i) == 404 {
			accepted++
		}
	}
	if accepted > 1 {
		t.Fatalf("node b let %d failures through after node a spent the cluster's budget", accepted)
	}
}

// TestClusterPresenceTableInParts checks that a node that lost track of
// another (missed presence messages) gets its whole table again, in parts,
// and forgets the devices the table no longer lists.
func TestClusterPresenceTableInParts(t *testing.T) {
	old := syncPartBytes
	syncPartBytes = 1 // one device per part
	t.Cleanup(func() { syncPartBytes = old })
	nodes, _ := newClusterNodes(t, 2)
	a, b := nodes[0], nodes[1]
	var devs []string
	for i := range 3 {
		dev, tok := a.register(fmt.Sprintf("box%d", i))
		a.agent(tok)
		devs = append(devs, dev)
	}
	online := func(dev string) bool { ok, _ := b.srv.hub.Live(dev); return ok }
	waitFor(t, "node b to see the agents of node a", func() bool {
		return online(devs[0]) && online(devs[1]) && online(devs[2])
	})
	h := b.srv.hub
	h.mu.Lock()
	clear(h.remote)
	delete(h.known, a.srv.hub.node)
	h.remote["d_gone"] = map[string]*remoteAgent{a.srv.hub.node: {at: 1, hello: &protocol.Hello{Name: "gone"}}}
	h.mu.Unlock()
	waitFor(t, "the table of node a again, in parts", func() bool {
		return online(devs[0]) && online(devs[1]) && online(devs[2]) && !online("d_gone")
	})
}

// waitFor polls ok every 20 ms until it holds, for at most hangGuard.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", hangGuard, what)
		}
	}
}

// recordingBroker records the events a hub sends to single nodes.
type recordingBroker struct {
	broker.Broker
	sent []broker.Event
}

func (b *recordingBroker) Send(node string, e broker.Event) error {
	b.sent = append(b.sent, e)
	return nil
}

// TestPresenceTableFitsNATS checks that a large presence table goes out in
// parts that each fit NATS's default limit of 1 MB a message.
func TestPresenceTableFitsNATS(t *testing.T) {
	rec := &recordingBroker{Broker: broker.NewBus().Node("x")}
	h := newHub(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}, newMetrics(), rec)
	big := protocol.MustData(protocol.Hello{Name: strings.Repeat("n", 64<<10)})
	for i := range 40 {
		h.agents[fmt.Sprintf("d_%d", i)] = &agentConn{at: int64(i), helloRaw: big}
	}
	h.mu.Lock()
	h.onSyncRequestLocked("y")
	h.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range rec.sent {
		if len(e.Data) > 1<<20 {
			t.Fatalf("a part of %d bytes: over NATS's 1 MB", len(e.Data))
		}
		if e.Count != len(rec.sent) {
			t.Fatalf("part says %d parts, %d sent", e.Count, len(rec.sent))
		}
		var entries []syncEntry
		if err := json.Unmarshal(e.Data, &entries); err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			seen[en.Device] = true
		}
	}
	if len(seen) != 40 || len(rec.sent) < 3 {
		t.Fatalf("%d devices in %d parts", len(seen), len(rec.sent))
	}
}

// TestClusterCommandTimeout checks that a command across nodes that the
// agent never answers gets exactly one result, timeout, and that a late
// answer is not delivered.
func TestClusterCommandTimeout(t *testing.T) {
	nodes, _ := newClusterNodes(t, 2, func(c *Config) { c.CommandTimeout = 300 * time.Millisecond })
	dev, _, agent, _, client := across(nodes[0], nodes[1], nodes[1])
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c1", Device: dev, Name: "beep"})
	cmd := agent.next(protocol.TypeCommand)
	if res := client.next(protocol.TypeResult); res.ID != "c1" || res.Error == nil || res.Error.Code != protocol.CodeTimeout {
		t.Fatalf("unanswered command across nodes = %+v", res)
	}
	agent.send(protocol.Result(cmd.ID, dev, nil, nil)) // too late
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c2", Device: dev, Name: "beep"})
	cmd = agent.next(protocol.TypeCommand)
	agent.send(protocol.Result(cmd.ID, dev, nil, nil))
	if res := client.next(protocol.TypeResult); res.ID != "c2" || res.OK == nil || !*res.OK {
		t.Fatalf("the next result was %+v, want c2's (the late c1 result must not arrive)", res)
	}
}

// TestHeartbeatWaitsForEventsOnTheirWay: a heartbeat that overtakes a
// node's last presence events (they wait in its broker's queue) asks for
// no table; a lag that outlasts the next heartbeat does, and so does a
// node never heard in full. While a table's parts are coming, no other is
// asked.
func TestHeartbeatWaitsForEventsOnTheirWay(t *testing.T) {
	rec := &recordingBroker{Broker: broker.NewBus().Node("x")}
	h := newHub(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}, newMetrics(), rec)
	asks := func() int {
		n := 0
		for _, e := range rec.sent {
			if e.Kind == broker.SyncRequest {
				n++
			}
		}
		return n
	}
	step := func(what string, e broker.Event, want int) {
		t.Helper()
		h.mu.Lock()
		clear(h.asked) // the rate limit of asks is not what is tested here
		h.mu.Unlock()
		e.From = "y"
		h.onEvent(e)
		if got := asks(); got != want {
			t.Fatalf("%s: %d tables asked in all, want %d", what, got, want)
		}
	}
	hello := protocol.MustData(protocol.Hello{Name: "box"})
	presence := func(seq uint64, dev string) broker.Event {
		return broker.Event{Kind: broker.Presence, Seq: seq, Device: dev, At: int64(seq), Data: hello}
	}

	step("a node never heard in full", broker.Event{Kind: broker.Heartbeat, Seq: 5}, 1)
	step("its table", broker.Event{Kind: broker.SyncReply, Seq: 5, Count: 1, ID: "0", Data: json.RawMessage(`[]`)}, 1)
	step("a heartbeat in step", broker.Event{Kind: broker.Heartbeat, Seq: 5}, 1)
	step("a heartbeat ahead of two events", broker.Event{Kind: broker.Heartbeat, Seq: 7}, 1)
	step("the first event", presence(6, "d_a"), 1)
	step("the second event", presence(7, "d_b"), 1)
	step("the next heartbeat, in step", broker.Event{Kind: broker.Heartbeat, Seq: 7}, 1)
	step("a heartbeat ahead again", broker.Event{Kind: broker.Heartbeat, Seq: 9}, 1)
	step("the next, the events lost", broker.Event{Kind: broker.Heartbeat, Seq: 9}, 2)

	// A table of several parts, the first arrived: no other is asked
	// while they keep coming.
	step("part 0 of 3", broker.Event{Kind: broker.SyncReply, Seq: 9, Count: 3, ID: "0", Data: json.RawMessage(`[]`)}, 2)
	step("a heartbeat meanwhile", broker.Event{Kind: broker.Heartbeat, Seq: 11}, 2)
	step("and the next", broker.Event{Kind: broker.Heartbeat, Seq: 11}, 2)
	h.mu.Lock()
	h.syncing["y"].last = time.Now().Add(-syncStall) // the parts stopped coming
	h.mu.Unlock()
	step("a heartbeat after the table stalled", broker.Event{Kind: broker.Heartbeat, Seq: 11}, 3)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.remote["d_a"]["y"] == nil || h.remote["d_b"]["y"] == nil {
		t.Error("the events that came after their heartbeat were not applied")
	}
}

// TestClusterFirstCommandNamesItsBrowser: a browser paired through one node
// and connected to another is named on its very first command there, as on
// one node (the node of its socket learns the session's pairings when the
// socket opens, not on first use in the background).
func TestClusterFirstCommandNamesItsBrowser(t *testing.T) {
	nodes, _ := newClusterNodes(t, 2)
	a, b := nodes[0], nodes[1]
	dev, tok := b.register("box")
	agent := b.agent(tok)
	var out map[string]string
	if resp := a.do("POST", "/api/v1/pairings", "", map[string]string{"code": b.code(tok), "label": ""}, &out); resp.StatusCode != 201 {
		t.Fatalf("pair: %d %v", resp.StatusCode, out)
	}
	client := b.client(out["session_token"])
	client.waitPresence(dev, true)
	client.send(protocol.Message{Type: protocol.TypeCommand, ID: "c1", Device: dev, Name: "beep"})
	cmd := agent.next(protocol.TypeCommand)
	var from protocol.CommandFrom
	if err := json.Unmarshal(cmd.Data, &from); err != nil || from.Pairing == "" || from.Browser == "" {
		t.Fatalf("the first command from a browser paired on another node says it comes from %s (%v), want its pairing and browser", cmd.Data, err)
	}
}
