package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-desktop/tether/agent/activity"
	"github.com/tether-desktop/tether/internal/relaytest"
	"github.com/tether-desktop/tether/protocol"
)

// TestActivityLogRecordsEveryCommand: every command that reaches the agent
// is in the activity log, run or refused, with the browser the relay named
// on it (unknown without), and no typed text.
func TestActivityLogRecordsEveryCommand(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	s := Settings{}
	s.Set("type_text", true)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	from := protocol.MustData(protocol.CommandFrom{Pairing: "p_1", Browser: "Chrome on Android"})
	c.send(&protocol.Message{Type: protocol.TypeCommand, ID: "c1", Device: c.device, Name: "beep",
		Args: json.RawMessage(`{"frequency_hz":440}`), Data: from})
	c.next(t, protocol.TypeResult)
	c.command("c2", "screenshot", `{"format":"png"}`) // switched off: not_allowed
	c.next(t, protocol.TypeResult)
	c.send(&protocol.Message{Type: protocol.TypeCommand, ID: "c3", Device: c.device, Name: "type_text",
		Args: json.RawMessage(`{"text":"secret passphrase"}`), Data: from})
	c.next(t, protocol.TypeResult)

	var got []activity.Entry
	waitFor(t, "three entries in the activity log", func() bool {
		got, _ = activity.Read(cfg.ConfigDir)
		return len(got) == 3
	})
	if e := got[0]; e.Command != "beep" || !e.OK || e.Browser != "Chrome on Android" || e.Pairing != "p_1" || e.Args["frequency_hz"] != float64(440) {
		t.Errorf("beep entry = %+v", e)
	}
	if e := got[1]; e.Command != "screenshot" || e.OK || e.Code != protocol.CodeNotAllowed || e.Browser != "" {
		t.Errorf("refused entry = %+v", e)
	}
	if e := got[2]; e.Command != "type_text" || e.Args["text_length"] != float64(17) {
		t.Errorf("type_text entry = %+v", e)
	}
	raw, _ := activity.Read(cfg.ConfigDir)
	b, _ := json.Marshal(raw)
	if bytes.Contains(b, []byte("secret")) {
		t.Fatalf("the activity log holds typed text: %s", b)
	}
}

// recordingNotifier is the desktop's notifier as the notices see it: it
// records each notification and, with actions, answers choose.
type recordingNotifier struct {
	mu      sync.Mutex
	titles  []string
	bodies  []string
	actions [][]string
	choose  string
}

func (n *recordingNotifier) Notify(_ context.Context, title, body string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.titles, n.bodies = append(n.titles, title), append(n.bodies, body)
	return nil
}

// actionNotifier adds buttons to recordingNotifier: once the notice is
// shown, it clicks choose (if set) from another goroutine, as a desktop
// does; clicked waits for those clicks to be handled.
type actionNotifier struct {
	recordingNotifier
	clicks sync.WaitGroup
}

var _ ActionNotifier = (*actionNotifier)(nil)

func (n *actionNotifier) NotifyActions(ctx context.Context, title, body string, actions []string, chosen func(string)) error {
	n.Notify(ctx, title, body)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.actions = append(n.actions, actions)
	if c := n.choose; c != "" {
		n.clicks.Go(func() { chosen(c) })
	}
	return nil
}

func (n *actionNotifier) clicked() { n.clicks.Wait() }

// TestPairingNoticeShown: the runner's pairing hook shows "<browser> paired
// with this computer" with the address and the way to unpair; texts from
// the relay are cleaned; a malformed frame shows nothing.
func TestPairingNoticeShown(t *testing.T) {
	n := &recordingNotifier{}
	r := &runner{log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		notices: newPairingNotices(n, slog.New(slog.NewTextHandler(io.Discard, nil)), t.TempDir(), "http://127.0.0.1:1", nil)}
	frame := func(p protocol.PairedBrowser) *protocol.Message {
		return &protocol.Message{Type: protocol.TypePairing, Data: protocol.MustData(p)}
	}
	r.pairing(context.Background(), frame(protocol.PairedBrowser{ID: "p_abc", Name: "Chrome on Android",
		Address: "203.0.113.9", PairedAt: time.Now()}))
	r.pairing(context.Background(), frame(protocol.PairedBrowser{ID: "p_x", Name: "evil\u202egpj.exe\nsecond line"}))
	r.pairing(context.Background(), &protocol.Message{Type: protocol.TypePairing, Data: json.RawMessage(`[1]`)})
	var nilRunner *runner
	nilRunner.pairing(context.Background(), frame(protocol.PairedBrowser{ID: "p_y"})) // no panic

	if len(n.titles) != 2 {
		t.Fatalf("notifications = %q, want 2 (none for the malformed frame)", n.titles)
	}
	if n.titles[0] != "Chrome on Android paired with this computer" ||
		!strings.Contains(n.bodies[0], "203.0.113.9") || !strings.Contains(n.bodies[0], "tether unpair p_abc") {
		t.Errorf("notice = %q / %q", n.titles[0], n.bodies[0])
	}
	if !protocol.IsDisplayText(n.titles[1]) {
		t.Errorf("notice title %q is not plain display text", n.titles[1])
	}
}

// TestPairingNoticeUnpair: with a notifier that has buttons, the notice
// offers Unpair, and choosing it unpairs that browser on the real relay;
// dismissing it keeps the pairing.
func TestPairingNoticeUnpair(t *testing.T) {
	relay := relaytest.Start(t)
	dir := filepath.Join(t.TempDir(), "tether")
	ctx := context.Background()
	c, _, err := EnsureCredentials(ctx, nil, dir, relay, "", Device{Name: "box", OS: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		code, err := RequestPairingCode(ctx, nil, c)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(relay+protocol.PathPairings, "application/json", strings.NewReader(`{"code":"`+code.Code+`"}`))
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("pair: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	list, err := ListPairedBrowsers(ctx, nil, c)
	if err != nil || len(list) != 2 || list[0].Name != "Go-http-client" {
		t.Fatalf("paired browsers = %+v, %v", list, err)
	}
	n := &actionNotifier{}
	notices := newPairingNotices(n, slog.New(slog.NewTextHandler(io.Discard, nil)), dir, relay, nil)
	show := func(p protocol.PairedBrowser) error {
		return notices.show(ctx, &protocol.Message{Type: protocol.TypePairing, Data: protocol.MustData(p)})
	}
	if err := show(list[0]); err != nil { // dismissed
		t.Fatal(err)
	}
	n.choose = actionUnpair
	if err := show(list[1]); err != nil {
		t.Fatal(err)
	}
	n.clicked()
	if len(n.actions) != 2 || len(n.actions[1]) != 1 || n.actions[1][0] != "Unpair" {
		t.Fatalf("actions offered = %q", n.actions)
	}
	left, err := ListPairedBrowsers(ctx, nil, c)
	if err != nil || len(left) != 1 || left[0].ID != list[0].ID {
		t.Fatalf("after Unpair: %+v, %v; want only %s", left, err, list[0].ID)
	}
	// Unpairing an id the relay does not know is a 404 APIError.
	var apiErr *APIError
	if err := UnpairBrowser(ctx, nil, c, list[1].ID); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("unpair again = %v, want a 404", err)
	}
	if err := UnpairBrowser(ctx, nil, c, "../device"); err == nil {
		t.Fatal("a path in the id was sent")
	}
}
