package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/clustertest"
	"github.com/tether-desktop/tether/internal/pgtest"
	"github.com/tether-desktop/tether/protocol"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	clustertest.Cleanup()
	os.Exit(code)
}

// TestClusterOfProcesses runs three tether-relay processes sharing
// PostgreSQL and NATS: a client on one node sees an agent on another,
// its command gets exactly one result, device_offline once the agent is on
// no node, an unpairing on a third node reaches it within 1 s, and an
// agent connecting to a second node replaces its first connection.
func TestClusterOfProcesses(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3})
	n0, n1, n2 := c.Nodes[0].URL, c.Nodes[1].URL, c.Nodes[2].URL
	dev, tok := clustertest.Register(t, n0, "box")
	agent := clustertest.StartAgent(t, n0, tok, clustertest.AgentOptions{})
	sess := clustertest.Pair(t, n0, n1, tok, "") // a code shown by node 0 is good on node 1
	client := clustertest.DialClient(t, n1, sess)
	if !client.Online(dev, true, 10*time.Second) {
		t.Fatal("the client on node 1 never saw the agent of node 0 online")
	}
	if code := client.Command("c1", dev); code != "ok" {
		t.Fatalf("command across nodes: %s", code)
	}
	if !client.Telemetry(dev, 10*time.Second) {
		t.Fatal("no telemetry across nodes")
	}

	// The same agent connects to node 2: its socket on node 0 is replaced.
	second := clustertest.StartAgent(t, n2, tok, clustertest.AgentOptions{NoReconnect: true})
	agent.Stop() // so it does not come back and replace the second
	waitUntil(t, 10*time.Second, "the second connection to be up", second.Connected)
	if code := client.Command("c2", dev); code != "ok" {
		t.Fatalf("command after the agent moved to node 2: %s", code)
	}
	first := clustertest.StartAgent(t, n0, tok, clustertest.AgentOptions{NoReconnect: true})
	waitUntil(t, 10*time.Second, "the connection on node 2 to be replaced", func() bool { return second.Replaced() == 1 })
	waitUntil(t, 10*time.Second, "the newest connection to be up", first.Connected)

	// Gone from every node: device_offline.
	first.Stop()
	waitUntil(t, 10*time.Second, "node 1 to show the device offline", func() bool {
		var list []struct{ Online bool }
		clustertest.API(t, "GET", n1, "/api/v1/devices", sess, nil, &list)
		return len(list) == 1 && !list[0].Online
	})
	if code := client.Command("c3", dev); code != protocol.CodeDeviceOffline {
		t.Fatalf("command to a device on no node: %s, want device_offline", code)
	}

	// Unpairing on node 2 cuts the socket on node 1 within 1 s.
	start := time.Now()
	if resp := clustertest.API(t, "DELETE", n2, "/api/v1/pairings/"+dev, sess, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("unpair: %d", resp.StatusCode)
	}
	removed := client.Next(time.Second, func(m *protocol.Message) bool {
		var p protocol.Presence
		return m.Type == protocol.TypePresence && m.Device == dev && json.Unmarshal(m.Data, &p) == nil && p.Removed
	})
	if removed == nil {
		t.Fatalf("the socket on node 1 still watched the device 1 s after it was unpaired on node 2 (%s)", time.Since(start))
	}

	// A node stopped gracefully tells the others its devices left: they
	// show offline at once, not after the 7 s of a silent node.
	dev2, tok2 := clustertest.Register(t, n0, "box2")
	clustertest.StartAgent(t, n0, tok2, clustertest.AgentOptions{NoReconnect: true})
	client = clustertest.DialClient(t, n1, clustertest.Pair(t, n0, n1, tok2, "")) // the session went with its last pairing
	if !client.Online(dev2, true, 10*time.Second) {
		t.Fatal("the second device never online on node 1")
	}
	start = time.Now()
	c.Nodes[0].Stop()
	if !client.Online(dev2, false, 10*time.Second) {
		t.Fatal("the device of a stopped node never showed offline")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the device of a stopped node showed offline after %s, like a dead node's", took)
	}
}

// waitUntil polls ok every 50 ms for at most d.
func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// presenceTracker follows the presence frames a client receives.
type presenceTracker struct {
	c      *clustertest.Client
	online map[string]bool
	first  map[string]time.Time // when a device was first seen offline
}

// until reads frames until cond holds of the online map, for at most d; it
// hands results to onResult.
func (p *presenceTracker) until(d time.Duration, cond func() bool, onResult func(*protocol.Message)) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		m := p.c.Next(left, func(*protocol.Message) bool { return true })
		if m == nil {
			return cond()
		}
		switch m.Type {
		case protocol.TypePresence:
			var pr protocol.Presence
			if json.Unmarshal(m.Data, &pr) == nil {
				p.online[m.Device] = pr.Online
				if !pr.Online {
					if _, ok := p.first[m.Device]; !ok {
						p.first[m.Device] = time.Now()
					}
				}
			}
		case protocol.TypeResult:
			if onResult != nil {
				onResult(m)
			}
		}
	}
	return true
}

// TestClusterNodeKilled kills one of three nodes behind HAProxy with
// SIGKILL while commands are in flight: every command is answered, a device
// whose agent stays away shows offline within 10 s, the other agents are
// back through HAProxy on the remaining nodes within 15 s, and no pairing
// is lost.
func TestClusterNodeKilled(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, LoadBalancer: true})
	const agents = 24
	var devs []string
	var session string
	var fleet []*clustertest.Agent
	for i := range agents {
		node := c.Nodes[i%3].URL // spread the per-address limits over the nodes
		dev, tok := clustertest.Register(t, node, fmt.Sprintf("box%d", i))
		session = clustertest.Pair(t, node, node, tok, session)
		devs = append(devs, dev)
		fleet = append(fleet, clustertest.StartAgent(t, c.LB, tok, clustertest.AgentOptions{Delay: 300 * time.Millisecond}))
	}
	// One agent straight on node 0 that does not come back.
	lone, loneTok := clustertest.Register(t, c.Nodes[0].URL, "lone")
	session = clustertest.Pair(t, c.Nodes[0].URL, c.Nodes[0].URL, loneTok, session)
	clustertest.StartAgent(t, c.Nodes[0].URL, loneTok, clustertest.AgentOptions{NoReconnect: true})
	all := append(devs, lone)

	client := clustertest.DialClient(t, c.Nodes[2].URL, session)
	tr := &presenceTracker{c: client, online: map[string]bool{}, first: map[string]time.Time{}}
	allOnline := func(list []string) func() bool {
		return func() bool {
			for _, d := range list {
				if !tr.online[d] {
					return false
				}
			}
			return true
		}
	}
	if !tr.until(15*time.Second, allOnline(all), nil) {
		t.Fatalf("not every device online before the kill: %v", tr.online)
	}

	// Commands in flight to every device (answered after 300 ms), then the kill.
	results := map[string]string{}
	var mu sync.Mutex
	onResult := func(m *protocol.Message) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := results[m.ID]; dup {
			t.Errorf("second result for %s", m.ID)
		}
		results[m.ID] = clustertest.ResultCode(m)
	}
	for i, d := range all {
		client.Send(&protocol.Message{Type: protocol.TypeCommand, ID: "k" + strconv.Itoa(i), Device: d, Name: "beep"})
	}
	c.Nodes[0].Kill()
	killed := time.Now()
	clear(tr.first)

	// Every command answered, the lone device offline within 10 s.
	answered := func() bool { mu.Lock(); defer mu.Unlock(); return len(results) == len(all) }
	loneOff := func() bool { return !tr.online[lone] }
	if !tr.until(10*time.Second, func() bool { return loneOff() && answered() }, onResult) {
		t.Fatalf("10 s after the kill: lone device online=%v, %d of %d commands answered\nnode 2:\n%s", tr.online[lone], len(results), len(all), c.Nodes[2].Dump())
	}
	t.Logf("lone device offline after %s", tr.first[lone].Sub(killed).Round(time.Millisecond))
	for id, code := range results {
		switch code {
		case "ok", protocol.CodeDeviceOffline, protocol.CodeUnavailable:
		default:
			t.Errorf("command %s: %s", id, code)
		}
	}

	// The other agents are back on nodes 1 and 2 through HAProxy.
	if !tr.until(15*time.Second-time.Since(killed), allOnline(devs), nil) {
		t.Fatalf("15 s after the kill, devices still offline: %v", tr.online)
	}
	var back time.Duration
	moved := 0
	for _, a := range fleet {
		if !a.Connected() {
			t.Fatal("an agent is not connected 15 s after the kill")
		}
		if a.Connects() > 1 {
			moved++
			back = max(back, a.LastConnect().Sub(killed))
		}
	}
	if moved == 0 {
		t.Fatal("no agent reconnected: none was on the killed node")
	}
	t.Logf("%d agents moved off the killed node through HAProxy, the last %s after the kill", moved, back.Round(time.Millisecond))
	for i, d := range devs {
		if code := client.Command("after"+strconv.Itoa(i), d); code != "ok" {
			t.Fatalf("command to %s after the kill: %s", d, code)
		}
	}
	var listed []map[string]any
	if resp := clustertest.API(t, "GET", c.LB, "/api/v1/devices", session, nil, &listed); resp.StatusCode != 200 || len(listed) != len(all) {
		t.Fatalf("devices after the kill: %d, %d listed; want %d", resp.StatusCode, len(listed), len(all))
	}
}

// agentAcross connects an agent to node 0 and a client of a new session
// paired with it to node 1, which sees the device online.
func agentAcross(t *testing.T, c *clustertest.Cluster) (dev, sess string, client *clustertest.Client) {
	t.Helper()
	n0, n1 := c.Nodes[0].URL, c.Nodes[1].URL
	dev, tok := clustertest.Register(t, n0, "box")
	clustertest.StartAgent(t, n0, tok, clustertest.AgentOptions{})
	sess = clustertest.Pair(t, n0, n1, tok, "")
	client = clustertest.DialClient(t, n1, sess)
	if !client.Online(dev, true, 10*time.Second) {
		t.Fatal("device never online on node 1")
	}
	return dev, sess, client
}

// TestClusterNATSRestart stops NATS under two nodes: a command across
// nodes fails at once with unavailable while one on the agent's own node
// still works, and across nodes works again once NATS is back, with no
// node restarted.
func TestClusterNATSRestart(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 2})
	dev, sess, client := agentAcross(t, c)
	if code := client.Command("before", dev); code != "ok" {
		t.Fatalf("command before the restart: %s", code)
	}
	// A client on the agent's own node, which must not notice NATS going.
	local := clustertest.DialClient(t, c.Nodes[0].URL, sess)
	if !local.Online(dev, true, 10*time.Second) {
		t.Fatal("device never online on its own node")
	}
	c.StopNATS()
	if code := local.Command("local", dev); code != "ok" {
		t.Fatalf("command on the agent's own node with NATS down: %s", code)
	}
	// The node notices the lost connection within a moment; from then on
	// a command fails at once.
	var code string
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		start := time.Now()
		code = client.Command("down"+strconv.Itoa(i), dev)
		if took := time.Since(start); code == protocol.CodeUnavailable {
			if took > time.Second {
				t.Fatalf("unavailable took %s", took)
			}
			t.Logf("with NATS down, unavailable answered in %s", took.Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with NATS down a command across nodes got %s, want unavailable", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.StartNATS()
	back := time.Now()
	deadline = time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		if code = client.Command("up"+strconv.Itoa(i), dev); code == "ok" {
			t.Logf("commands across nodes work again %s after NATS is back", time.Since(back).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after NATS came back a command still got %s\nnode 1:\n%s", code, c.Nodes[1].Log())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A longer outage: past 7 s the other node is taken for dead and its
	// device shown offline (never stuck online); once NATS is back, the
	// nodes find each other again and the device is online and reachable.
	c.StopNATS()
	if !client.Online(dev, false, 12*time.Second) {
		t.Fatal("the device of an unreachable node still showed online after 12 s")
	}
	if code := client.Command("long", dev); code != protocol.CodeUnavailable {
		t.Fatalf("command with NATS long down: %s, want unavailable", code)
	}
	c.StartNATS()
	if !client.Online(dev, true, 15*time.Second) {
		t.Fatalf("the device never came back online after NATS did\nnode 1:\n%s", c.Nodes[1].Log())
	}
	if code := client.Command("back", dev); code != "ok" {
		t.Fatalf("command after the long outage: %s", code)
	}
	if !client.Telemetry(dev, 10*time.Second) {
		t.Fatal("no telemetry across nodes after the long outage: the interest was not restored")
	}
}

// TestClusterPostgresRestart stops PostgreSQL under two nodes: the API
// answers 503 with Retry-After, open sockets keep working, and the API
// recovers by itself once PostgreSQL is back.
func TestClusterPostgresRestart(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 2, OwnPostgres: true})
	dev, sess, client := agentAcross(t, c)
	if err := c.Postgres.Stop(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "503 with Retry-After while PostgreSQL is down", func() bool {
		resp := clustertest.API(t, "GET", c.Nodes[1].URL, "/api/v1/devices", sess, nil, nil)
		return resp.StatusCode == 503 && resp.Header.Get("Retry-After") != ""
	})
	if code := client.Command("down", dev); code != "ok" {
		t.Fatalf("command across nodes while PostgreSQL is down: %s", code)
	}
	if err := c.Postgres.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the API to recover", func() bool {
		return clustertest.API(t, "GET", c.Nodes[1].URL, "/api/v1/devices", sess, nil, nil).StatusCode == 200
	})
	if code := client.Command("up", dev); code != "ok" {
		t.Fatalf("command after PostgreSQL came back: %s", code)
	}
}
