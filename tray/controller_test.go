package tray

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/internal/relaytest"
)

const hangGuard = 30 * time.Second

type quietDesktop struct{}

func (quietDesktop) Beep(context.Context, int, time.Duration) error { return nil }
func (quietDesktop) Notify(context.Context, string, string) error   { return nil }
func (quietDesktop) Unavailable() map[string]string                 { return nil }

// fakeAutostart records installs in memory.
type fakeAutostart struct {
	mu sync.Mutex
	on bool
}

func (f *fakeAutostart) Installed() (bool, error) { f.mu.Lock(); defer f.mu.Unlock(); return f.on, nil }
func (f *fakeAutostart) Install() error           { f.mu.Lock(); defer f.mu.Unlock(); f.on = true; return nil }
func (f *fakeAutostart) Uninstall() error         { f.mu.Lock(); defer f.mu.Unlock(); f.on = false; return nil }

// TestControllerAgainstTheRelay drives the controller's clicks with a real
// agent and relay in this process; the browser opener is a function.
func TestControllerAgainstTheRelay(t *testing.T) {
	relay, dir, a, ctx, wg := agentOnRelay(t)

	var mu sync.Mutex
	var opened []string
	auto := &fakeAutostart{}
	quit := make(chan struct{})
	ctrl, err := NewController(Config{Agent: a, Autostart: auto, Poll: 20 * time.Millisecond,
		OpenURL: func(u string) error {
			mu.Lock()
			defer mu.Unlock()
			opened = append(opened, u)
			if strings.Contains(u, "fail") {
				return errors.New("no browser")
			}
			return nil
		},
		Quit: func() { close(quit) }})
	if err != nil {
		t.Fatal(err)
	}
	models := make(chan Model, 1000)
	wg.Go(func() { ctrl.Run(ctx, func(m Model) { models <- m }) })
	waitModel := func(what string, cond func(Model) bool) Model {
		t.Helper()
		return awaitModel(t, ctrl, models, what, cond)
	}
	waitModel("connected", func(m Model) bool { return m.Status.State == agent.StateConnected && m.Paired == 0 })

	ctrl.Click(IDPair)
	m := waitModel("a code", func(m Model) bool { return m.Code != nil && m.Busy == "" })
	mu.Lock()
	if len(opened) != 1 || opened[0] != m.Code.URL || !strings.HasPrefix(m.Code.URL, relay+"/pair?code=") {
		t.Errorf("opened %v for code %+v", opened, m.Code)
	}
	mu.Unlock()
	resp, err := http.Post(relay+"/api/v1/pairings", "application/json", strings.NewReader(`{"code":"`+m.Code.Code+`"}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("pairing with the tray's code: %v %v", resp, err)
	}
	resp.Body.Close()
	waitModel("one paired browser", func(m Model) bool { return m.Paired == 1 })

	ctrl.Click(CommandPrefix + "beep")
	waitModel("beep off", func(m Model) bool { return !contains(m.Status.Allowed, "beep") })
	if s, _ := agent.LoadSettings(dir); s.Allowed("beep", true) {
		t.Errorf("config.json still allows beep: %+v", s)
	}
	ctrl.Click(IDPause)
	waitModel("paused", func(m Model) bool { return m.Status.Paused })
	ctrl.Click(IDMouse)
	waitModel("mouse shared", func(m Model) bool { return m.Status.Mouse })
	ctrl.Click(IDWindow)
	waitModel("window title shared", func(m Model) bool { return m.Status.WindowTitle })
	if s, _ := agent.LoadSettings(dir); !s.Allowed(IDWindow, false) {
		t.Errorf("config.json does not share the window title: %+v", s)
	}

	ctrl.Click(IDAutostart)
	waitModel("autostart on", func(m Model) bool { return m.Autostart })
	ctrl.Click(IDAutostart)
	waitModel("autostart off", func(m Model) bool { return !m.Autostart })

	ctrl.Click(IDUnpairAll)
	waitModel("nobody paired", func(m Model) bool { return m.Paired == 0 && m.Code == nil && m.Busy == "" })

	ctrl.Click(IDOpenPage)
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		ok := len(opened) == 2 && opened[1] == relay
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("control page not opened: %v", opened)
		}
	}

	ctrl.Click(IDQuit)
	select {
	case <-quit:
	case <-time.After(hangGuard):
		t.Fatal("Quit did not call Config.Quit")
	}
}

// agentOnRelay runs a real agent (quiet built-in commands) against a real
// relay in this process until the test ends, and returns the relay's URL,
// the agent's config directory, the agent, and the context and wait group
// that work started by the test should use.
func agentOnRelay(t *testing.T) (string, string, *agent.Agent, context.Context, *sync.WaitGroup) {
	t.Helper()
	relay := relaytest.Start(t)
	dir := t.TempDir()
	a, err := agent.New(agent.Config{RelayURL: relay, ConfigDir: dir, Name: "tray-test",
		Commands: commands.Builtin(quietDesktop{}), SettingsPoll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wg := &sync.WaitGroup{}
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() { a.Run(ctx) })
	return relay, dir, a, ctx, wg
}

// awaitModel reads the rendered models until one satisfies cond; the
// deadline is a hang guard.
func awaitModel(t *testing.T, ctrl *Controller, models <-chan Model, what string, cond func(Model) bool) Model {
	t.Helper()
	timeout := time.After(hangGuard)
	for {
		select {
		case m := <-models:
			if cond(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s; last model %+v", what, ctrl.Model())
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestPairFailureIsShown(t *testing.T) {
	dir := t.TempDir()
	a, err := agent.New(agent.Config{RelayURL: "http://127.0.0.1:1", ConfigDir: dir, Commands: commands.Builtin(quietDesktop{})})
	if err != nil {
		t.Fatal(err)
	}
	// Registered with a relay that does not answer.
	agent.SaveCredentials(dir, agent.Credentials{Relay: "http://127.0.0.1:1", DeviceID: "d_x", DeviceToken: "tdt_x"})
	ctrl, err := NewController(Config{Agent: a, OpenURL: func(string) error { t.Error("opened a browser"); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	models := make(chan Model, 100)
	done := make(chan struct{})
	go func() { defer close(done); ctrl.Run(ctx, func(m Model) { models <- m }) }()
	ctrl.Click(IDPair)
	timeout := time.After(hangGuard)
	for {
		select {
		case m := <-models:
			if strings.HasPrefix(m.Err, "Pair a browser: ") && m.Busy == "" {
				cancel()
				<-done
				return
			}
		case <-timeout:
			t.Fatalf("no error shown: %+v", ctrl.Model())
		}
	}
}
