package agent

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent/telemetry"
	"github.com/tether-desktop/tether/protocol"
)

// sensingDesktop is the test desktop that also tells the idle time and the
// focused window's title, as *desktop.Desktop does.
type sensingDesktop struct{ fakeDesktop }

func (*sensingDesktop) IdleTime(context.Context) (time.Duration, error) { return 42 * time.Second, nil }
func (*sensingDesktop) ActiveWindowTitle(context.Context) (string, error) {
	return "Quarterly report.ods", nil
}

// TestDefaultSamplerSendsSensors: with no Sampler configured the agent
// samples the real machine's sensors and the desktop's idle time; the
// window's title goes out only once the owner shares it.
func TestDefaultSamplerSendsSensors(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	cfg.Sampler = nil
	cfg.Desktop = &sensingDesktop{}
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	c.watch(1)
	// next returns the newest telemetry: samples come every 20 ms, faster
	// than waitFor polls, so the queued older ones are skipped.
	next := func() protocol.Telemetry {
		t.Helper()
		m := c.next(t, protocol.TypeTelemetry)
		for drained := false; !drained; {
			select {
			case n := <-c.msgs:
				if n != nil && n.Type == protocol.TypeTelemetry {
					m = n
				}
			default:
				drained = true
			}
		}
		var tel protocol.Telemetry
		if err := json.Unmarshal(m.Data, &tel); err != nil {
			t.Fatal(err)
		}
		return tel
	}
	tel := next()
	if tel.IdleSeconds == nil || *tel.IdleSeconds != 42 {
		t.Errorf("idle_s %v, want 42", tel.IdleSeconds)
	}
	if runtime.GOOS == "linux" && (len(tel.Disks) == 0 || tel.UptimeSeconds == 0) {
		t.Errorf("no disks or uptime from this machine: %+v", tel)
	}
	if tel.ActiveWindow != "" {
		t.Fatalf("window title %q sent while not shared", tel.ActiveWindow)
	}
	s := Settings{}
	s.Set(telemetry.WindowTitle, true)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the window's title in telemetry", func() bool { return next().ActiveWindow == "Quarterly report.ods" })
	s.Set(telemetry.WindowTitle, false)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no title once sharing stops", func() bool { return next().ActiveWindow == "" })
}
