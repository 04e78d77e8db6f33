package agent

import (
	"context"
	"fmt"
	"net/http"
)

// This file holds what the tray needs from a running agent and from the
// relay beyond the command line's needs.

// DeviceInfo is the relay's view of this device (GET /api/v1/device).
type DeviceInfo struct {
	DeviceID       string `json:"device_id"`
	Name           string `json:"name"`
	PairedBrowsers int    `json:"paired_browsers"`
}

// FetchDeviceInfo asks the relay how it knows the device c names, with the
// number of browsers paired with it. Blocks for one HTTP round trip, bounded
// by ctx and 30 s.
func FetchDeviceInfo(ctx context.Context, hc *http.Client, c Credentials) (DeviceInfo, error) {
	var d DeviceInfo
	if err := call(ctx, hc, http.MethodGet, NormalizeRelay(c.Relay)+"/api/v1/device", c.DeviceToken, nil, http.StatusOK, &d); err != nil {
		return DeviceInfo{}, fmt.Errorf("device info: %w", err)
	}
	return d, nil
}

// CommandNames lists every command this agent can carry out, switched on or
// not, in the dispatcher's order. Safe concurrently.
func (a *Agent) CommandNames() []string { return a.disp.Names() }

// ConfigDir is the directory of the agent's files.
func (a *Agent) ConfigDir() string { return a.cfg.ConfigDir }

// HTTPClient is the client the agent uses for the relay's HTTP API.
func (a *Agent) HTTPClient() *http.Client { return a.cfg.HTTPClient }

// ApplySettings writes s to config.json and applies it at once rather than at
// the next poll: the status is updated and, when connected, a new hello
// tells the relay. Safe concurrently with Run; blocks only on the file write.
func (a *Agent) ApplySettings(s Settings) error {
	if err := SaveSettings(a.cfg.ConfigDir, s); err != nil {
		return err
	}
	if !a.reloadSettings() {
		return nil
	}
	a.update(func(st *Status) { a.fillSettingsStatus(st) })
	select {
	case a.changed <- struct{}{}:
	default:
	}
	return nil
}
