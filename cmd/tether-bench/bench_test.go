package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunTiny runs every scenario at a tiny scale against Tether's relay and
// the real agent, and against each peer whose runtime is installed (a missing
// one fails the test when TETHER_REQUIRE_BENCH is set), so CI knows the
// harness works. It checks that every scenario produced its figures, not
// what the figures are: this machine is shared and timings are not asserted.
func TestRunTiny(t *testing.T) {
	targets := []string{"tether"}
	cfg := Config{RequirePeers: os.Getenv("TETHER_REQUIRE_BENCH") != ""}
	for _, peer := range []string{"socket.io", "py-websockets"} {
		if cfg.RequirePeers {
			targets = append(targets, peer)
			continue
		}
		probe := cfg
		probe.Root = moduleRoot(t)
		tg, why, err := probe.target(peer, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if tg == nil {
			t.Logf("peer %s not measured: %s (set TETHER_REQUIRE_BENCH to require it)", peer, why)
			continue
		}
		targets = append(targets, peer)
	}
	out := t.TempDir()
	cfg = Config{
		Out: out, Targets: targets, RequirePeers: cfg.RequirePeers,
		IdleSteps: []int{6, 12}, RestWindow: 300 * time.Millisecond, Settle: 200 * time.Millisecond,
		RestartBound: 40 * time.Second, FanAgents: 4, FanClients: 2, FanRate: 20, LoadedRate: 80, ProbeRate: 10,
		Window: time.Second, AgentRun: 2 * time.Second, Log: testWriter{t},
		RealAgents: 5, RealClients: 2, RealMinHz: 5, RealMaxHz: 40, Runs: 2,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard only
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range targets {
		if len(res.Runs[name]) != 2 {
			t.Fatalf("%s: %d runs, want 2", name, len(res.Runs[name]))
		}
		for i, tr := range res.Runs[name] {
			t.Run(fmt.Sprintf("%s/run%d", name, i+1), func(t *testing.T) {
				if tr.Error != "" {
					t.Fatalf("%s failed: %s", name, tr.Error)
				}
				if len(tr.Idle) != 2 {
					t.Fatalf("idle steps: got %d, want 2", len(tr.Idle))
				}
				for _, s := range tr.Idle {
					if s.Up != s.N || s.RSSBytes <= 0 {
						t.Errorf("idle step %+v: want every agent up and an RSS", s)
					}
				}
				if r := tr.Restart; r == nil || r.Back != r.N || r.T100 < 0 || r.N != 12 {
					t.Errorf("restart: %+v: want all 12 agents back", r)
				}
				if f := tr.Fanout; f == nil || f.DeliveredPerSec <= 0 || f.SentPerSec <= 0 {
					t.Errorf("fan-out: %+v: want telemetry delivered", f)
				}
				lats := map[string]*Latency{"idle": tr.RTTIdle, "loaded": tr.RTTLoaded}
				if name == "tether" {
					lats["idle from lean ends"], lats["floor"] = tr.RTTLean, tr.RTTFloor
				}
				for what, l := range lats {
					if l == nil || l.N == 0 || l.Errors != 0 || l.P50us <= 0 || l.MaxUs < l.P99us {
						t.Errorf("round trips %s: %+v: want samples and no errors", what, l)
					}
				}
				if r := tr.Real; r == nil || r.Agents != 5 || r.DeliveredPerSec <= 0 || r.Samples == 0 || r.P50us <= 0 || r.MaxUs < r.P99us {
					t.Errorf("realistic fan-out: %+v: want deliveries and their latencies", r)
				}
			})
		}
	}
	t.Run("agent", func(t *testing.T) {
		a := res.Agent
		if a == nil || a.Error != "" {
			t.Fatalf("tether run --no-tray: %+v", a)
		}
		if a.RSSBytes <= 0 || a.TelemetryHz <= 0 || a.Threads == 0 {
			t.Errorf("agent figures missing: %+v", a)
		}
	})
	t.Run("outputs", func(t *testing.T) {
		for _, f := range []string{"results.json", "table.txt", "latency.svg", "reconnect.svg"} {
			b, err := os.ReadFile(filepath.Join(out, f))
			if err != nil || len(b) == 0 {
				t.Errorf("%s: %v (%d bytes)", f, err, len(b))
			}
		}
		table, _ := os.ReadFile(filepath.Join(out, "table.txt"))
		for _, want := range []string{"fan-out: delivered messages", "realistic 5×2: delivery p99", "median of 2 runs", "restart: 99 % back", "round trip idle: p99", "round trip idle, lean ends: p50", "round trip floor, no relay: p50", "tether run --no-tray"} {
			if !strings.Contains(string(table), want) {
				t.Errorf("table lacks %q:\n%s", want, table)
			}
		}
		svg, _ := os.ReadFile(filepath.Join(out, "reconnect.svg"))
		if !strings.Contains(string(svg), "<polyline") {
			t.Errorf("reconnect.svg has no curve")
		}
	})
}

// TestMain lets the test binary serve as the cluster bench's load-generator
// child and as the lean prober and forwarder, which re-execute its own binary.
func TestMain(m *testing.M) {
	if mode := os.Getenv(leanEnv); mode != "" {
		if err := runLean(mode, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(childEnv) == "1" {
		if err := runChild(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestClusterTiny runs the cluster bench's whole path at a tiny scale: 2
// relay nodes on a real PostgreSQL and nats-server, 200 agents from 2
// load-generator children, round trips, a kill -9 and the fan-outs. It
// checks that every figure was produced and that every agent of the killed
// node came back (within the bench's bound, 60 s; they take about a second),
// not how fast.
func TestClusterTiny(t *testing.T) {
	for _, p := range []string{natsServerBin, postgresDir + "/postgres"} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("TETHER_REQUIRE_DESKTOP") == "1" {
				t.Fatalf("%s is required (TETHER_REQUIRE_DESKTOP=1): %v", p, err)
			}
			t.Skipf("%s not installed (scripts/setup --test)", p)
		}
	}
	out := t.TempDir()
	cfg := Config{Out: out, Cluster: 2, ClusterAgents: 200, ClusterWatch: 40, RestWindow: time.Second, Settle: 300 * time.Millisecond,
		Window: 2 * time.Second, FanAgents: 6, FanClients: 4, FanRate: 20, RestartBound: 60 * time.Second, Log: testWriter{t}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard only
	defer cancel()
	res, err := RunCluster(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	if id := res.Idle; id == nil || id.Held != 200 || len(id.Nodes) != 2 || id.Nodes[0].Agents != 100 || id.Nodes[1].RSSBytes <= 0 {
		t.Errorf("idle: %+v: want 200 agents held, 100 a node, with RSS", id)
	}
	for what, l := range map[string]*Latency{"same node": res.RTTSame, "cross-node": res.RTTCross} {
		if l == nil || l.N == 0 || l.Errors != 0 || l.P50us <= 0 {
			t.Errorf("round trips %s: %+v: want samples and no errors", what, l)
		}
	}
	if k := res.Kill; k == nil || k.Agents != 100 || k.Back != 100 || k.T100 < 0 || k.Watched != 40 || k.SeenBack != 40 || k.OfflineAtEnd != 0 {
		t.Errorf("kill -9: %+v: want the 100 agents of node 1 back and the 40 followed devices seen online, none offline at the end", k)
	}
	if len(res.Fanout) != 2 {
		t.Fatalf("fan-outs: %d, want 2 (on both nodes, on one)", len(res.Fanout))
	}
	for _, f := range res.Fanout {
		if f.Error != "" || f.DeliveredPerSec <= 0 || f.RelayCPUPct <= 0 {
			t.Errorf("fan-out on %d nodes: %+v", f.Nodes, f)
		}
	}
	if f := res.Fanout[0]; f.Nodes != 2 || f.NATSOutPerSec <= 0 {
		t.Errorf("fan-out on 2 nodes: %+v: want frames crossing NATS", f)
	}
	table, _ := os.ReadFile(filepath.Join(out, "cluster.txt"))
	for _, want := range []string{"idle agents held: 200 of 200", "cross-node p50", "kill -9 of node 1 holding 100 agents", "NATS msgs per delivery"} {
		if !strings.Contains(string(table), want) {
			t.Errorf("cluster.txt lacks %q:\n%s", want, table)
		}
	}
	if svg, _ := os.ReadFile(filepath.Join(out, "cluster-recovery.svg")); !strings.Contains(string(svg), "<polyline") {
		t.Error("cluster-recovery.svg has no curve")
	}
}

func TestWireClassify(t *testing.T) {
	tests := []struct {
		name      string
		w         wire
		frame     string
		kind      int
		id, reply string
	}{
		{"tether telemetry", tetherWire{}, `{"type":"telemetry","device":"d_1","data":{}}`, kindTelemetry, "", ""},
		{"tether telemetry forwarded with the device in front", tetherWire{}, `{"device":"d_1","type":"telemetry","ts":"t","data":{}}`, kindTelemetry, "", ""},
		{"tether event forwarded with the device in front", tetherWire{}, `{"device":"d_1","type":"event","data":{"type":"telemetry"}}`, kindOther, "", ""},
		{"tether command", tetherWire{}, `{"type":"command","id":"r1f","device":"d_1","name":"beep"}`, kindCommand, "r1f", `{"type":"result","id":"r1f","ok":true}`},
		{"tether result", tetherWire{}, `{"type":"result","id":"7","device":"d_1","ok":true}`, kindResult, "7", ""},
		{"tether presence", tetherWire{}, `{"type":"presence","device":"d_1"}`, kindOther, "", ""},
		{"python result, other key order", pyWire{}, `{"id":"9","type":"result","ok":true}`, kindResult, "9", ""},
		{"socket.io telemetry", socketIOWire{}, `42["telemetry",{"type":"telemetry"}]`, kindTelemetry, "", ""},
		{"socket.io ping", socketIOWire{}, `2`, kindOther, "", "3"},
		{"socket.io command", socketIOWire{}, `4212["command",{"id":"5"}]`, kindCommand, "12", `4312[{"type":"result","ok":true}]`},
		{"socket.io ack", socketIOWire{}, `4335[{"type":"result","ok":true}]`, kindResult, "35", ""},
		{"socket.io other event", socketIOWire{}, `42["hello",{}]`, kindOther, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, id, reply := tc.w.classify([]byte(tc.frame))
			if k != tc.kind || id != tc.id || string(reply) != tc.reply {
				t.Errorf("classify(%s) = %d %q %q, want %d %q %q", tc.frame, k, id, reply, tc.kind, tc.id, tc.reply)
			}
		})
	}
}

func TestTelemetryEnvelopeSize(t *testing.T) {
	for _, n := range []int{200, 512} {
		if got := len(telemetryEnvelope(n)); got != n {
			t.Errorf("telemetryEnvelope(%d) is %d bytes", n, got)
		}
	}
}

func moduleRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd)) // cmd/tether-bench → root
}

// testWriter sends the bench's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		in             []float64
		med, min, maxv float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	} {
		s := spread(tc.in)
		if s.Median != tc.med || s.Min != tc.min || s.Max != tc.maxv || len(s.Runs) != len(tc.in) {
			t.Errorf("spread(%v) = %+v, want median %v, %v–%v", tc.in, s, tc.med, tc.min, tc.maxv)
		}
	}
}

func TestStampedTelemetry(t *testing.T) {
	f := stampedTelemetry(200, 1764547200123456789)
	if got := sentNs(f); got != 1764547200123456789 {
		t.Errorf("sentNs = %d", got)
	}
	if len(f) != 200 || !json.Valid(f) {
		t.Errorf("frame of %d bytes, valid %v: %s", len(f), json.Valid(f), f)
	}
	if got := sentNs([]byte(`{"data": {"sent_ns": 42, "pad": "x"}}`)); got != 42 {
		t.Errorf("sentNs after Python's re-encoding = %d, want 42", got)
	}
	if sentNs([]byte(`{"type":"telemetry"}`)) != 0 {
		t.Error("sentNs of an unstamped frame is not 0")
	}
}

func TestClusterHomes(t *testing.T) {
	for _, tc := range []struct{ n, nodes, victim, wantVictim, wantOther int }{
		{200, 2, 0, 100, 100},
		{600, 6, 0, 100, 100},
		{100000, 7, 15000, 15000, 85000 / 6},
	} {
		home := clusterHomes(tc.n, tc.nodes, tc.victim)
		count := make([]int, tc.nodes)
		for _, h := range home {
			count[h]++
		}
		if count[tc.nodes-1] != tc.wantVictim {
			t.Errorf("clusterHomes(%d, %d, %d): %d on the last node, want %d", tc.n, tc.nodes, tc.victim, count[tc.nodes-1], tc.wantVictim)
		}
		for i, c := range count[:tc.nodes-1] {
			if c < tc.wantOther || c > tc.wantOther+1 {
				t.Errorf("clusterHomes(%d, %d, %d): node %d holds %d, want %d", tc.n, tc.nodes, tc.victim, i, c, tc.wantOther)
			}
		}
		// The first half holds about half of the victim's agents: spread.
		half := 0
		for _, h := range home[:tc.n/2] {
			if h == tc.nodes-1 {
				half++
			}
		}
		if d := half - tc.wantVictim/2; d < -1 || d > 1 {
			t.Errorf("clusterHomes(%d, %d, %d): %d of the last node's agents in the first half, want about %d", tc.n, tc.nodes, tc.victim, half, tc.wantVictim/2)
		}
	}
}
