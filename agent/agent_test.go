package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tether-desktop/tether/agent/backoff"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// defaultOn are the built-in commands on in a new install, sorted.
var defaultOn = []string{"beep", "lock_screen", "media", "notify", "receive_files", "volume"}

// testConfig returns a Config for an agent talking to r from a fresh dir.
func testConfig(t *testing.T, r *fakeRelay) Config {
	return Config{
		RelayURL:       r.URL(),
		ConfigDir:      filepath.Join(t.TempDir(), "tether"),
		Name:           "test-box",
		Version:        "v-test",
		Desktop:        &fakeDesktop{},
		Sampler:        &fakeSampler{},
		TelemetryEvery: 20 * time.Millisecond,
		SettingsPoll:   20 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// startAgent runs an agent for the rest of the test; tweak may change its
// internals before Run.
func startAgent(t *testing.T, cfg Config, tweak func(*Agent)) *Agent {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel", err)
			}
		case <-time.After(hangGuard):
			t.Error("Run did not return after cancel")
		}
	})
	return a
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestRegistersOnFirstStartAndStoresCredentials(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	a := startAgent(t, cfg, nil)
	c := r.nextConn(t)
	hello := c.next(t, protocol.TypeHello)
	if c.device != "d_1" || r.registered() != 1 {
		t.Fatalf("device %q after %d registrations, want d_1 after 1", c.device, r.registered())
	}
	var h protocol.Hello
	if err := json.Unmarshal(hello.Data, &h); err != nil {
		t.Fatal(err)
	}
	if h.Name != "test-box" || h.Version != "v-test" || h.OS == "" || h.Arch == "" {
		t.Errorf("hello = %+v", h)
	}

	if m := fileMode(t, cfg.ConfigDir); m != 0o700 {
		t.Errorf("config dir mode %o, want 700", m)
	}
	credPath := filepath.Join(cfg.ConfigDir, CredentialsFile)
	if m := fileMode(t, credPath); m != 0o600 {
		t.Errorf("credentials mode %o, want 600", m)
	}
	creds, err := LoadCredentials(cfg.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	if creds != (Credentials{Relay: r.URL(), DeviceID: "d_1", DeviceToken: "tok-1"}) {
		t.Errorf("stored credentials = %#v", creds)
	}
	waitFor(t, "connected status", func() bool { return a.Status().State == StateConnected })
	waitFor(t, "status.json says connected", func() bool {
		s, err := ReadStatus(cfg.ConfigDir)
		return err == nil && s.State == StateConnected && s.DeviceID == "d_1"
	})
	if m := fileMode(t, filepath.Join(cfg.ConfigDir, StatusFile)); m != 0o600 {
		t.Errorf("status.json mode %o, want 600", m)
	}
	if st := a.Status(); !slices.Equal(st.Allowed, defaultOn) || st.Relay != r.URL() {
		t.Errorf("status = %+v", st)
	}
	// No stray temporary files are left behind.
	entries, _ := os.ReadDir(cfg.ConfigDir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left a temporary file %s", e.Name())
		}
	}
}

func TestRegistersAgainWhenCredentialsDoNotFit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		creds func(r *fakeRelay) Credentials
	}{
		{"relay forgot the token", func(r *fakeRelay) Credentials {
			return Credentials{Relay: r.URL(), DeviceID: "d_old", DeviceToken: "stale"}
		}},
		{"credentials of another relay", func(r *fakeRelay) Credentials {
			return Credentials{Relay: "http://elsewhere.example", DeviceID: "d_other", DeviceToken: "other"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRelay(t)
			cfg := testConfig(t, r)
			if err := SaveCredentials(cfg.ConfigDir, tc.creds(r)); err != nil {
				t.Fatal(err)
			}
			a := startAgent(t, cfg, nil)
			c := r.nextConn(t)
			c.next(t, protocol.TypeHello)
			if c.device != "d_1" {
				t.Fatalf("connected as %q, want the new d_1", c.device)
			}
			creds, err := LoadCredentials(cfg.ConfigDir)
			if err != nil || creds.DeviceID != "d_1" || creds.DeviceToken != "tok-1" || creds.Relay != r.URL() {
				t.Fatalf("credentials after re-registering = %#v, %v", creds, err)
			}
			waitFor(t, "status device d_1", func() bool { return a.Status().DeviceID == "d_1" })
		})
	}
}

func TestEnrollTokenRefusedIsUnauthorized(t *testing.T) {
	r := newFakeRelay(t)
	r.enroll = "right"
	cfg := testConfig(t, r)
	cfg.EnrollToken = "wrong"
	clock := backoff.NewFakeClock(time.Unix(1e9, 0))
	cfg.Clock = clock
	a := startAgent(t, cfg, nil)
	waitFor(t, "unauthorized state", func() bool { return a.Status().State == StateUnauthorized })
	if st := a.Status(); !strings.Contains(st.LastError, "401") || st.NextRetry.IsZero() {
		t.Errorf("status = %+v", st)
	}
	if _, err := LoadCredentials(cfg.ConfigDir); err == nil {
		t.Error("credentials stored although registration failed")
	}
}

func TestHelloCarriesSpecsAndFollowsSettings(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	cfg.Desktop = &fakeDesktop{unavailable: map[string]string{"beep": "no sound device"}}
	startAgent(t, cfg, nil)
	c := r.nextConn(t)

	var h protocol.Hello
	if err := json.Unmarshal(c.next(t, protocol.TypeHello).Data, &h); err != nil {
		t.Fatal(err)
	}
	if got := h.Capabilities(); !slices.Equal(got, defaultOn) {
		t.Fatalf("hello commands %v, want %v", got, defaultOn)
	}
	beep := protocol.FindCommand(h.Commands, "beep")
	if len(beep.Args) != 2 || beep.Args[0].Name != "frequency_hz" {
		t.Errorf("beep spec = %+v", beep)
	}
	if h.Unavailable["beep"] != "no sound device" {
		t.Errorf("unavailable = %v", h.Unavailable)
	}

	// The owner switches notify off and pauses: a new hello says so.
	s := Settings{Paused: true}
	s.Set("notify", false)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(c.next(t, protocol.TypeHello).Data, &h); err != nil {
		t.Fatal(err)
	}
	if got := h.Capabilities(); !slices.Equal(got, slices.DeleteFunc(slices.Clone(defaultOn), func(n string) bool { return n == "notify" })) || !h.Paused {
		t.Fatalf("hello after the change: commands %v paused %v", got, h.Paused)
	}
}

func TestTelemetryOnlyWhileWatched(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	sampler := &fakeSampler{}
	cfg.Sampler = sampler
	a := startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)

	// Unwatched: a command's result comes back but no telemetry. 25
	// telemetry intervals pass while we wait for the second result.
	c.command("sync-1", "beep", "")
	c.next(t, protocol.TypeResult)
	time.Sleep(25 * cfg.TelemetryEvery)
	c.command("sync-2", "notify", `{"title":"x"}`)
	for m := range c.msgs {
		if m.Type == protocol.TypeTelemetry {
			t.Fatal("telemetry sent with no watchers")
		}
		if m.Type == protocol.TypeResult && m.ID == "sync-2" {
			break
		}
	}
	if n := sampler.n.Load(); n != 0 {
		t.Errorf("sampled %d times with no watchers", n)
	}

	c.watch(2)
	tm := c.next(t, protocol.TypeTelemetry)
	var tel protocol.Telemetry
	if err := json.Unmarshal(tm.Data, &tel); err != nil || tel.CPUPercent != 12.5 || tm.Device != "d_1" {
		t.Fatalf("telemetry %+v (%v) from %q", tel, err, tm.Device)
	}
	if _, err := time.Parse(time.RFC3339, tm.TS); err != nil {
		t.Errorf("ts %q: %v", tm.TS, err)
	}
	if want := protocol.MustData(tel); string(tm.Data) != string(want) {
		t.Errorf("telemetry data %s, want it as marshalled: %s", tm.Data, want)
	}
	c.next(t, protocol.TypeTelemetry) // it keeps coming
	waitFor(t, "status watchers 2", func() bool { return a.Status().Watchers == 2 })

	c.watch(0)
	waitFor(t, "status watchers 0", func() bool { return a.Status().Watchers == 0 })
	// At most one sample taken before the watch message arrived may still
	// be on its way; after that, silence over many intervals.
	c.command("sync-3", "beep", "")
	stray := 0
	for m := range c.msgs {
		if m.Type == protocol.TypeTelemetry {
			stray++
		}
		if m.Type == protocol.TypeResult && m.ID == "sync-3" {
			break
		}
	}
	time.Sleep(25 * cfg.TelemetryEvery)
	c.command("sync-4", "beep", "")
	for m := range c.msgs {
		if m.Type == protocol.TypeTelemetry {
			t.Fatal("telemetry after watchers went to 0")
		}
		if m.Type == protocol.TypeResult && m.ID == "sync-4" {
			break
		}
	}
	if stray > 1 {
		t.Errorf("%d telemetry frames after watchers went to 0", stray)
	}
}

func TestEveryCommandGetsExactlyOneResult(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	desk := &fakeDesktop{}
	cfg.Desktop = desk
	cfg.Commands = append(commands.Builtin(desk),
		commands.Command{
			Spec: protocol.CommandSpec{Name: "explode", Args: []protocol.ArgSpec{}}, DefaultOn: true,
			Run: func(context.Context, map[string]any) (json.RawMessage, error) { panic("boom") },
		},
		commands.Command{
			Spec: protocol.CommandSpec{Name: "slow", Args: []protocol.ArgSpec{}}, DefaultOn: true,
			Timeout: 50 * time.Millisecond,
			Run: func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
		},
		commands.Command{
			Spec: protocol.CommandSpec{Name: "echo", Args: []protocol.ArgSpec{{Name: "v", Type: protocol.ArgString}}}, DefaultOn: false,
			Run: func(_ context.Context, args map[string]any) (json.RawMessage, error) {
				return protocol.MustData(args), nil
			},
		},
	)
	s := Settings{}
	s.Set("notify", false)
	s.Set("echo", true)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)

	cases := []struct {
		id, name, args string
		code           string // "" for ok
		data           string
	}{
		{"c-ok", "beep", `{"frequency_hz":440,"duration_ms":100}`, "", ""},
		{"c-off", "notify", `{"title":"hi"}`, protocol.CodeNotAllowed, ""},
		{"c-bad", "beep", `{"frequency_hz":5}`, protocol.CodeInvalidArgs, ""},
		{"c-extra", "beep", `{"volume":11}`, protocol.CodeInvalidArgs, ""},
		{"c-unknown", "reboot", "", protocol.CodeUnknownCommand, ""},
		{"c-panic", "explode", "", protocol.CodeInternal, ""},
		{"c-timeout", "slow", "", protocol.CodeTimeout, ""},
		{"c-data", "echo", `{"v":"x"}`, "", `{"v":"x"}`},
	}
	for _, tc := range cases {
		c.command(tc.id, tc.name, tc.args)
	}
	got := map[string][]*protocol.Message{}
	for len(got) < len(cases) {
		m := c.next(t, protocol.TypeResult)
		got[m.ID] = append(got[m.ID], m)
	}
	// Anything more would arrive before a fresh command's result.
	c.command("c-fence", "beep", "")
	for m := c.next(t, protocol.TypeResult); m.ID != "c-fence"; m = c.next(t, protocol.TypeResult) {
		got[m.ID] = append(got[m.ID], m)
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			rs := got[tc.id]
			if len(rs) != 1 {
				t.Fatalf("%d results, want exactly 1", len(rs))
			}
			m := rs[0]
			if m.Device != "d_1" || m.OK == nil {
				t.Fatalf("result %+v", m)
			}
			switch {
			case tc.code == "" && (!*m.OK || m.Error != nil):
				t.Fatalf("want ok, got error %+v", m.Error)
			case tc.code != "" && (*m.OK || m.Error == nil || m.Error.Code != tc.code):
				t.Fatalf("want %s, got ok=%v error %+v", tc.code, *m.OK, m.Error)
			case tc.data != "" && string(m.Data) != tc.data:
				t.Fatalf("data %s, want %s", m.Data, tc.data)
			}
		})
	}
	desk.mu.Lock()
	defer desk.mu.Unlock()
	if len(desk.beeps) == 0 || desk.beeps[0] != 440 || len(desk.notes) != 0 {
		t.Errorf("desktop saw beeps %v notes %v", desk.beeps, desk.notes)
	}
}

// holdCommand is a command "hold" (on by default, no arguments) that
// counts its runs in started and returns once release is closed or its
// context ends.
func holdCommand(release <-chan struct{}, started *atomic.Int64) commands.Command {
	return commands.Command{
		Spec: protocol.CommandSpec{Name: "hold", Args: []protocol.ArgSpec{}}, DefaultOn: true,
		Run: func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
			started.Add(1)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		},
	}
}

func TestCommandsBeyondTheBoundAreRateLimited(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	cfg.MaxConcurrent = 1
	release := make(chan struct{})
	var started atomic.Int64
	cfg.Commands = []commands.Command{holdCommand(release, &started)}
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	c.command("h1", "hold", "")
	waitFor(t, "first command running", func() bool { return started.Load() == 1 })
	c.command("h2", "hold", "")
	m := c.next(t, protocol.TypeResult)
	if m.ID != "h2" || m.Error == nil || m.Error.Code != protocol.CodeRateLimited {
		t.Fatalf("second command: %+v %+v", m, m.Error)
	}
	close(release)
	m = c.next(t, protocol.TypeResult)
	if m.ID != "h1" || !*m.OK {
		t.Fatalf("first command: %+v %+v", m, m.Error)
	}
}

// waitOffline waits until the agent has dropped its link and is waiting to
// retry, and returns how long it will wait on the fake clock.
func waitOffline(t *testing.T, a *Agent, clock *backoff.FakeClock) (time.Duration, Status) {
	t.Helper()
	var st Status
	waitFor(t, "offline and waiting", func() bool {
		st = a.Status()
		return st.State == StateOffline && clock.Waiters() > 0
	})
	return st.NextRetry.Sub(clock.Now()), st
}

func TestReconnectsAfterTheRelayDropsTheConnection(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	clock := backoff.NewFakeClock(time.Unix(1e9, 0))
	cfg.Clock = clock
	cfg.Rand = func() float64 { return 0.5 }
	a := startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	c.ws.Close() // no close frame: the TCP connection just ends

	wait, st := waitOffline(t, a, clock)
	if wait != 500*time.Millisecond {
		t.Errorf("first retry in %v, want half of the 1 s base", wait)
	}
	if st.LastError == "" {
		t.Error("no last error while offline")
	}
	clock.Advance(wait)
	c2 := r.nextConn(t)
	c2.next(t, protocol.TypeHello)
	if c2.device != "d_1" || r.registered() != 1 {
		t.Errorf("reconnected as %q after %d registrations", c2.device, r.registered())
	}
	waitFor(t, "connected again", func() bool { return a.Status().State == StateConnected })
}

func TestBackoffGrowsWhileTheRelayRefuses(t *testing.T) {
	r := newFakeRelay(t)
	r.failDials = 3
	cfg := testConfig(t, r)
	clock := backoff.NewFakeClock(time.Unix(1e9, 0))
	cfg.Clock = clock
	cfg.Rand = func() float64 { return 0.99 }
	a := startAgent(t, cfg, nil)
	for i, want := range []time.Duration{990 * time.Millisecond, 1980 * time.Millisecond, 3960 * time.Millisecond} {
		wait, st := waitOffline(t, a, clock)
		if wait != want {
			t.Errorf("retry %d in %v, want %v", i, wait, want)
		}
		if !strings.Contains(st.LastError, "503") {
			t.Errorf("last error %q", st.LastError)
		}
		clock.Advance(wait)
	}
	r.nextConn(t).next(t, protocol.TypeHello)
}

func TestServiceRestartRetriesQuickly(t *testing.T) {
	r := newFakeRelay(t)
	r.failDials = 4 // push the backoff up first: the next wait would be ~16 s
	cfg := testConfig(t, r)
	clock := backoff.NewFakeClock(time.Unix(1e9, 0))
	cfg.Clock = clock
	cfg.Rand = func() float64 { return 0.99 }
	a := startAgent(t, cfg, nil)
	for range 4 {
		wait, _ := waitOffline(t, a, clock)
		clock.Advance(wait)
	}
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	c.closeWith(websocket.CloseServiceRestart)
	wait, st := waitOffline(t, a, clock)
	if wait != 4950*time.Millisecond {
		t.Errorf("retry after 1012 in %v, want 0.99 × 5 s", wait)
	}
	if !strings.Contains(st.LastError, "1012") {
		t.Errorf("last error %q", st.LastError)
	}
	clock.Advance(wait)
	r.nextConn(t).next(t, protocol.TypeHello)
}

func TestDeadLinkIsDropped(t *testing.T) {
	r := newFakeRelay(t)
	r.noRead = true // never reads, so never answers the agent's pings
	cfg := testConfig(t, r)
	cfg.Heartbeat = 200 * time.Millisecond
	cfg.DeadAfter = 2 * time.Second
	clock := backoff.NewFakeClock(time.Unix(1e9, 0))
	cfg.Clock = clock
	a := startAgent(t, cfg, nil)
	r.nextConn(t)
	waitFor(t, "connected", func() bool { return a.Status().State == StateConnected })
	start := time.Now()
	_, st := waitOffline(t, a, clock)
	if !strings.Contains(st.LastError, "link dead") {
		t.Errorf("last error %q", st.LastError)
	}
	// Generous bound: DeadAfter plus scheduling slack; the default would be 60 s.
	if el := time.Since(start); el > cfg.DeadAfter+10*time.Second {
		t.Errorf("dead link noticed after %v", el)
	}
}

// TestWakeFromSleepProbesTheLink: after the machine "slept" (the wall clock
// ran ahead of the monotonic one) the link is probed and, silent, dropped
// long before DeadAfter. The clocks are compared on a ticker where the
// kernel does not tell of a wake, and at the kernel's notice where it does
// (Linux): then, with the ticker an hour away, the notice alone does it.
func TestWakeFromSleepProbesTheLink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kernel bool // the clock watch's notice, not the ticker
	}{{"ticker", false}, {"kernel notice", true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRelay(t)
			r.noRead = true
			cfg := testConfig(t, r)
			cfg.Heartbeat = time.Minute
			cfg.DeadAfter = 10 * time.Minute // only the probe can notice in time
			clock := backoff.NewFakeClock(time.Unix(1e9, 0))
			cfg.Clock = clock
			var offset atomic.Int64
			a := startAgent(t, cfg, func(a *Agent) {
				a.wallNow = func() time.Time { return time.Now().Round(0).Add(time.Duration(offset.Load())) }
				a.sleepEvery = 10 * time.Millisecond
				a.clockWatch = false // compare the clocks on a ticker, as without the kernel's notice
				if tc.kernel {
					a.sleepEvery = time.Hour
					a.clockWatch = clockWatchAvailable
				}
				a.probeWait = 200 * time.Millisecond
			})
			r.nextConn(t)
			waitFor(t, "connected", func() bool { return a.Status().State == StateConnected })
			if tc.kernel && clockWatchAvailable && a.linkSleepEvery() != 0 {
				t.Fatalf("the kernel's notice is available but the links compare the clocks every %v", a.linkSleepEvery())
			}
			// The machine "sleeps" an hour now and then, until the agent has
			// noticed (its detector may start after the first jump).
			waitFor(t, "offline and waiting", func() bool {
				offset.Add(int64(time.Hour))
				if tc.kernel {
					a.state.clockJumped() // as the clock watch does when the kernel cancels its timer
				}
				time.Sleep(20 * time.Millisecond)
				st := a.Status()
				return st.State == StateOffline && clock.Waiters() > 0
			})
			st := a.Status()
			if !strings.Contains(st.LastError, "link dead") {
				t.Errorf("last error %q", st.LastError)
			}
		})
	}
}

// testWriter sends the agent's log to the test's log (shown on failure).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func TestRunStopsCleanlyAndSaysGoodbye(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	if err := a.Run(ctx); err == nil {
		t.Error("a second concurrent Run did not fail")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run did not return")
	}
	for range c.msgs { // drain until the agent's close frame ends the read
	}
	st, err := ReadStatus(cfg.ConfigDir)
	if err != nil || st.State != StateStopped {
		t.Errorf("status.json after stop: %+v, %v", st, err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no config dir", Config{Desktop: &fakeDesktop{}}},
		{"no desktop or commands", Config{ConfigDir: t.TempDir()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	a, err := New(Config{ConfigDir: t.TempDir(), Desktop: &fakeDesktop{}, Heartbeat: time.Minute, DeadAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.RelayURL != DefaultRelay || a.cfg.DeadAfter != 2*time.Minute || a.cfg.MaxConcurrent != 8 {
		t.Errorf("defaults: relay %q dead after %v max %d", a.cfg.RelayURL, a.cfg.DeadAfter, a.cfg.MaxConcurrent)
	}
}

func TestAPIHelpers(t *testing.T) {
	r := newFakeRelay(t)
	r.enroll = "secret"
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")

	_, _, err := EnsureCredentials(ctx, nil, dir, r.URL(), "", Device{Name: "x"})
	if !IsUnauthorized(err) {
		t.Fatalf("register without enroll token: %v", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "unauthorized" || ae.Message == "" {
		t.Errorf("error carries %+v", ae)
	}
	c, reg, err := EnsureCredentials(ctx, nil, dir, r.URL()+"/", "secret", Device{Name: "x"})
	if err != nil || !reg || c.DeviceID != "d_1" {
		t.Fatalf("register: %#v %v %v", c, reg, err)
	}
	if strings.Contains(c.String(), c.DeviceToken) || strings.Contains(c.GoString(), c.DeviceToken) {
		t.Error("printing credentials shows the token")
	}
	c2, reg, err := EnsureCredentials(ctx, nil, dir, r.URL(), "secret", Device{Name: "x"})
	if err != nil || reg || c2 != c {
		t.Fatalf("second EnsureCredentials registered again: %#v %v %v", c2, reg, err)
	}
	p, err := RequestPairingCode(ctx, nil, c)
	if err != nil || p.Code != "ABCD-2345" || !strings.HasSuffix(p.URL, "/pair?code=ABCD-2345") || p.ExpiresAt.Year() != 2030 {
		t.Fatalf("pairing code %+v %v", p, err)
	}
	if err := UnpairAll(ctx, nil, c); err != nil {
		t.Fatal(err)
	}
	if err := UnpairAll(ctx, nil, Credentials{Relay: r.URL(), DeviceToken: "nope"}); !IsUnauthorized(err) {
		t.Errorf("unpair with a bad token: %v", err)
	}
	if r.unpaired != 1 {
		t.Errorf("relay saw %d unpair-all calls", r.unpaired)
	}
}

func TestSettingsRoundTripAndRelayResolution(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	s, err := LoadSettings(dir)
	if err != nil || s.Mouse || s.Paused || s.Commands != nil {
		t.Fatalf("missing file: %+v %v", s, err)
	}
	if got := ResolveRelay(dir, ""); got != DefaultRelay {
		t.Errorf("relay with nothing stored = %q", got)
	}
	if err := SaveCredentials(dir, Credentials{Relay: "http://from-creds:1", DeviceID: "d", DeviceToken: "t"}); err != nil {
		t.Fatal(err)
	}
	if got := ResolveRelay(dir, ""); got != "http://from-creds:1" {
		t.Errorf("relay from credentials = %q", got)
	}
	s.Relay, s.Mouse = "http://from-settings:2/", true
	s.Set("beep", false)
	if err := SaveSettings(dir, s); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, filepath.Join(dir, SettingsFile)); m != 0o600 {
		t.Errorf("config.json mode %o", m)
	}
	if got := ResolveRelay(dir, ""); got != "http://from-settings:2" {
		t.Errorf("relay from settings = %q", got)
	}
	if got := ResolveRelay(dir, " http://flag:3/ "); got != "http://flag:3" {
		t.Errorf("relay from flag = %q", got)
	}
	back, err := LoadSettings(dir)
	if err != nil || !back.Mouse || back.Allowed("beep", true) || !back.Allowed("notify", true) || back.Allowed("screenshot", false) {
		t.Errorf("settings read back: %+v %v", back, err)
	}
	if err := os.WriteFile(filepath.Join(dir, SettingsFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSettings(dir); err == nil {
		t.Error("a broken config.json parsed")
	}
}
