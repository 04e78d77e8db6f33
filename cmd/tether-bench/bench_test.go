package main

import (
	"context"
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
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard only
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range targets {
		t.Run(name, func(t *testing.T) {
			tr := res.Targets[name]
			if tr == nil {
				t.Fatalf("no results for %s", name)
			}
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
			for what, l := range map[string]*Latency{"idle": tr.RTTIdle, "loaded": tr.RTTLoaded} {
				if l == nil || l.N == 0 || l.Errors != 0 || l.P50us <= 0 || l.MaxUs < l.P99us {
					t.Errorf("round trips %s: %+v: want samples and no errors", what, l)
				}
			}
		})
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
		for _, want := range []string{"fan-out: delivered messages", "restart: 99 % back", "round trip idle: p99", "tether run --no-tray"} {
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

func TestWireClassify(t *testing.T) {
	tests := []struct {
		name      string
		w         wire
		frame     string
		kind      int
		id, reply string
	}{
		{"tether telemetry", tetherWire{}, `{"type":"telemetry","device":"d_1","data":{}}`, kindTelemetry, "", ""},
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
