package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// This file holds what a user interface (the tray) may ask of an agent,
// running or not: the verbs. They read the agent's own files and use its
// own HTTP client; the caller never needs either.

// ErrNotRegistered means the device has no identity on the relay yet (the
// agent registers when it first connects).
var ErrNotRegistered = errors.New("this computer is not registered with the relay yet")

// CommandNames lists every command this agent can carry out, switched on or
// not, in the dispatcher's order. Safe concurrently.
func (a *Agent) CommandNames() []string { return a.runner.disp.Names() }

// Settings returns the settings in force. Safe concurrently.
func (a *Agent) Settings() Settings { return a.state.currentSettings() }

// UpdateSettings changes config.json with f (given the file as it is now)
// and applies the result at once rather than at the next poll: the status
// changes and, when connected, a new hello tells the relay. Safe
// concurrently with Run and with itself; blocks only on the file.
func (a *Agent) UpdateSettings(f func(*Settings)) error {
	return a.watch.edit(f)
}

// ApplySettings writes s to config.json (replacing whatever it held) and
// applies it at once, as UpdateSettings does.
func (a *Agent) ApplySettings(s Settings) error {
	return a.watch.replace(s)
}

// credentials returns the device's identity on the configured relay, or
// ErrNotRegistered.
func (a *Agent) credentials() (Credentials, error) {
	c, err := LoadCredentials(a.cfg.ConfigDir)
	switch {
	case errors.Is(err, fs.ErrNotExist), err == nil && !c.Valid(a.cfg.RelayURL):
		return Credentials{}, ErrNotRegistered
	case err != nil:
		return Credentials{}, fmt.Errorf("read credentials: %w", err)
	}
	return c, nil
}

// PairingCode asks the relay for a new pairing code for this device. It
// blocks for one HTTP round trip, bounded by ctx and 30 s.
func (a *Agent) PairingCode(ctx context.Context) (PairingCode, error) {
	c, err := a.credentials()
	if err != nil {
		return PairingCode{}, err
	}
	return RequestPairingCode(ctx, a.cfg.HTTPClient, c)
}

// UnpairAll makes the relay forget every browser paired with this device.
// It blocks for one HTTP round trip, bounded by ctx and 30 s.
func (a *Agent) UnpairAll(ctx context.Context) error {
	c, err := a.credentials()
	if err != nil {
		return fmt.Errorf("unpair all: %w", err)
	}
	return UnpairAll(ctx, a.cfg.HTTPClient, c)
}

// DeviceInfo asks the relay how it knows this device, with the number of
// browsers paired with it. It blocks for one HTTP round trip, bounded by
// ctx and 30 s.
func (a *Agent) DeviceInfo(ctx context.Context) (DeviceInfo, error) {
	c, err := a.credentials()
	if err != nil {
		return DeviceInfo{}, err
	}
	return FetchDeviceInfo(ctx, a.cfg.HTTPClient, c)
}
