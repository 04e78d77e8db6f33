package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// This file holds what the agent does about the browsers paired with it:
// the desktop notification on every new pairing (the relay's "pairing"
// frame), and the verbs that list and unpair them one by one.

// Notifier shows a desktop notification (commands.Desktop has it).
type Notifier interface {
	Notify(ctx context.Context, title, body string) error
}

// ActionNotifier is a Notifier whose notifications can carry buttons
// (*desktop.Desktop has it). NotifyActions shows title and body with one
// button per action and returns once the notification is shown (or ctx
// ends); when the person clicks one, chosen is called once with it, later,
// from another goroutine; a dismissed notification, or a desktop without
// buttons, never calls it. A Desktop that has it gets an Unpair button on
// pairing notices, and Open and Show in folder on received files.
type ActionNotifier interface {
	NotifyActions(ctx context.Context, title, body string, actions []string, chosen func(action string)) error
}

// actionUnpair is the button of a pairing notice that unpairs the browser.
const actionUnpair = "Unpair"

// unpairBound bounds the unpairing a click on Unpair starts.
const unpairBound = 30 * time.Second

// pairingNotices shows the relay's pairing frames as desktop notifications
// ("Chrome on Android paired with this computer") so that a guessed or
// stolen code never goes unnoticed, with an Unpair button when the
// notifier has actions. Safe for concurrent use.
type pairingNotices struct {
	notifier Notifier // nil: notices are only logged
	log      *slog.Logger
	unpair   func(ctx context.Context, id string) error
}

// newPairingNotices returns the notices of an agent whose desktop is d (nil
// or without Notify: logged only), unpairing with the credentials in dir
// for relay through hc.
func newPairingNotices(d any, log *slog.Logger, dir, relay string, hc *http.Client) *pairingNotices {
	n, _ := d.(Notifier)
	return &pairingNotices{notifier: n, log: log, unpair: func(ctx context.Context, id string) error {
		c, err := credentialsFor(dir, relay)
		if err != nil {
			return err
		}
		return UnpairBrowser(ctx, hc, c, id)
	}}
}

// pairingText is the notice of pairing p: a title and a body of plain
// text, whatever p holds (its texts come from the relay, cleaned here).
func pairingText(p protocol.PairedBrowser) (title, body string) {
	name := protocol.CleanText(p.Name, protocol.MaxBrowserNameRunes)
	if name == "" {
		name = "A browser"
	}
	title = name + " paired with this computer"
	body = "Paired"
	if addr := protocol.CleanText(p.Address, 64); addr != "" {
		body += " from " + addr
	}
	if !p.PairedAt.IsZero() {
		body += " at " + p.PairedAt.Local().Format("15:04")
	}
	body += ". Not you? Unpair it from the tray's Paired browsers menu, or run: tether unpair " +
		protocol.CleanText(p.ID, protocol.MaxPairingIDLen)
	return title, body
}

// show shows the notice of pairing frame m and, when the notifier has
// actions, unpairs that browser if the person clicks Unpair (later, from
// the notifier's goroutine, bounded by 30 s). It blocks until the notice is
// shown; run it off the link's reader.
func (p *pairingNotices) show(ctx context.Context, m *protocol.Message) error {
	var pb protocol.PairedBrowser
	if err := json.Unmarshal(m.Data, &pb); err != nil || pb.ID == "" {
		return fmt.Errorf("pairing notice: malformed data")
	}
	title, body := pairingText(pb)
	p.log.Info("a browser paired with this computer", "pairing", pb.ID, "browser", pb.Name, "address", pb.Address)
	switch n := p.notifier.(type) {
	case nil:
		return nil
	case ActionNotifier:
		err := n.NotifyActions(ctx, title, body, []string{actionUnpair}, func(action string) {
			if action != actionUnpair {
				return
			}
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unpairBound)
			defer cancel()
			if err := p.unpair(uctx, pb.ID); err != nil {
				p.log.Warn("cannot unpair from the pairing notice", "pairing", pb.ID, "err", err)
				return
			}
			p.log.Info("browser unpaired from its pairing notice", "pairing", pb.ID)
		})
		if err != nil {
			return fmt.Errorf("pairing notice: %w", err)
		}
		return nil
	default:
		if err := n.Notify(ctx, title, body); err != nil {
			return fmt.Errorf("pairing notice: %w", err)
		}
		return nil
	}
}

// pairing handles the relay's pairing frame m (the link's hook): it shows
// the notice, logging what goes wrong. It blocks like show; nil-safe.
func (r *runner) pairing(ctx context.Context, m *protocol.Message) {
	if r == nil || r.notices == nil {
		return
	}
	if err := r.notices.show(ctx, m); err != nil {
		r.log.Warn("pairing notice", "err", err)
	}
}

// credentialsFor returns the device's identity in dir on relay, or
// ErrNotRegistered.
func credentialsFor(dir, relay string) (Credentials, error) {
	c, err := LoadCredentials(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist), err == nil && !c.Valid(relay):
		return Credentials{}, ErrNotRegistered
	case err != nil:
		return Credentials{}, fmt.Errorf("read credentials: %w", err)
	}
	return c, nil
}

// PairedBrowsers asks the relay for the browsers paired with this device,
// oldest first. It blocks for one HTTP round trip, bounded by ctx and 30 s.
func (a *Agent) PairedBrowsers(ctx context.Context) ([]PairedBrowser, error) {
	c, err := a.credentials()
	if err != nil {
		return nil, err
	}
	return ListPairedBrowsers(ctx, a.cfg.HTTPClient, c)
}

// UnpairBrowser makes the relay forget the paired browser whose pairing id
// is id; its sockets lose this device at once. It blocks for one HTTP round
// trip, bounded by ctx and 30 s.
func (a *Agent) UnpairBrowser(ctx context.Context, id string) error {
	c, err := a.credentials()
	if err != nil {
		return err
	}
	return UnpairBrowser(ctx, a.cfg.HTTPClient, c, id)
}
