package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// APIError is a refusal from the relay's HTTP API: the status and the
// relay's {"error":{"code","message"}} body.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error describes the refusal in one line.
func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("relay answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("relay answered %d: %s: %s", e.Status, e.Code, e.Message)
}

// IsUnauthorized reports whether err is the relay refusing a token (401).
func IsUnauthorized(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized
}

// Device describes this device when it registers.
type Device = protocol.RegisterRequest

// PairingCode is a short-lived code a person types (or a link they open) to
// pair a browser with this device.
type PairingCode = protocol.PairingCode

// DeviceInfo is the relay's view of this device (GET /api/v1/device).
type DeviceInfo = protocol.DeviceInfo

const apiTimeout = 30 * time.Second

// Register creates a new device on relay and returns its credentials (not
// saved: see EnsureCredentials). enrollToken is sent as a bearer token when
// not empty. hc may be nil for http.DefaultClient (which honours the proxy
// environment). Blocks for one HTTP round trip, bounded by ctx and 30 s.
func Register(ctx context.Context, hc *http.Client, relay, enrollToken string, d Device) (Credentials, error) {
	relay = NormalizeRelay(relay)
	if d.OS == "" {
		d.OS = runtime.GOOS
	}
	body, _ := json.Marshal(d)
	var out protocol.Registration
	if err := call(ctx, hc, http.MethodPost, relay+protocol.PathDevices, enrollToken, body, http.StatusCreated, &out); err != nil {
		return Credentials{}, fmt.Errorf("register with %s: %w", relay, err)
	}
	if out.DeviceID == "" || out.DeviceToken == "" {
		return Credentials{}, fmt.Errorf("register with %s: answer lacks device_id or device_token", relay)
	}
	return Credentials{Relay: relay, DeviceID: out.DeviceID, DeviceToken: out.DeviceToken}, nil
}

// RequestPairingCode asks the relay for a new pairing code for the device c
// names. Blocks for one HTTP round trip, bounded by ctx and 30 s.
func RequestPairingCode(ctx context.Context, hc *http.Client, c Credentials) (PairingCode, error) {
	var p PairingCode
	if err := call(ctx, hc, http.MethodPost, NormalizeRelay(c.Relay)+protocol.PathPairingCodes, c.DeviceToken, nil, http.StatusCreated, &p); err != nil {
		return PairingCode{}, fmt.Errorf("request pairing code: %w", err)
	}
	if p.Code == "" {
		return PairingCode{}, fmt.Errorf("request pairing code: answer lacks a code")
	}
	return p, nil
}

// UnpairAll makes the relay forget every browser paired with the device c
// names. Blocks for one HTTP round trip, bounded by ctx and 30 s.
func UnpairAll(ctx context.Context, hc *http.Client, c Credentials) error {
	if err := call(ctx, hc, http.MethodDelete, NormalizeRelay(c.Relay)+protocol.PathDevicePairing, c.DeviceToken, nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("unpair all: %w", err)
	}
	return nil
}

// PairedBrowser is one browser paired with this device, as the relay
// knows it (GET /api/v1/device/pairings).
type PairedBrowser = protocol.PairedBrowser

// ListPairedBrowsers asks the relay for the browsers paired with the device
// c names, oldest first. Blocks for one HTTP round trip, bounded by ctx and
// 30 s.
func ListPairedBrowsers(ctx context.Context, hc *http.Client, c Credentials) ([]PairedBrowser, error) {
	out := []PairedBrowser{}
	if err := call(ctx, hc, http.MethodGet, NormalizeRelay(c.Relay)+protocol.PathDevicePairing, c.DeviceToken, nil, http.StatusOK, &out); err != nil {
		return nil, fmt.Errorf("list paired browsers: %w", err)
	}
	return out, nil
}

// UnpairBrowser makes the relay forget the one paired browser whose pairing
// id is id; its open sockets lose the device at once. An unknown id is an
// *APIError with status 404. Blocks for one HTTP round trip, bounded by ctx
// and 30 s.
func UnpairBrowser(ctx context.Context, hc *http.Client, c Credentials, id string) error {
	if id == "" || len(id) > protocol.MaxPairingIDLen || strings.ContainsAny(id, "/?#%") || !protocol.IsDisplayText(id) {
		return fmt.Errorf("unpair %q: not a pairing id", id)
	}
	if err := call(ctx, hc, http.MethodDelete, NormalizeRelay(c.Relay)+protocol.PathDevicePairing+"/"+id, c.DeviceToken, nil, http.StatusNoContent, nil); err != nil {
		return fmt.Errorf("unpair %s: %w", id, err)
	}
	return nil
}

// FetchDeviceInfo asks the relay how it knows the device c names, with the
// number of browsers paired with it. Blocks for one HTTP round trip, bounded
// by ctx and 30 s.
func FetchDeviceInfo(ctx context.Context, hc *http.Client, c Credentials) (DeviceInfo, error) {
	var d DeviceInfo
	if err := call(ctx, hc, http.MethodGet, NormalizeRelay(c.Relay)+protocol.PathDevice, c.DeviceToken, nil, http.StatusOK, &d); err != nil {
		return DeviceInfo{}, fmt.Errorf("device info: %w", err)
	}
	return d, nil
}

// EnsureCredentials returns the credentials stored in dir for relay, or
// registers a new device there and stores its credentials (0600) when there
// are none, or when they belong to another relay. registered tells which
// happened. Blocks for at most one HTTP round trip. Not safe to run in two
// processes at once for the same dir (both would register).
func EnsureCredentials(ctx context.Context, hc *http.Client, dir, relay, enrollToken string, d Device) (c Credentials, registered bool, err error) {
	c, err = LoadCredentials(dir)
	if err == nil && c.Valid(relay) {
		return c, false, nil
	}
	// `tether run` and `tether pair` may both find no credentials on a first
	// start: the one that gets the lock registers, the other then finds its
	// credentials instead of registering a second device.
	unlock, err := lockConfigDir(dir)
	if err != nil {
		return Credentials{}, false, err
	}
	defer unlock()
	c, err = LoadCredentials(dir)
	if err == nil && c.Valid(relay) {
		return c, false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, false, fmt.Errorf("read credentials: %w", err)
	}
	c, err = Register(ctx, hc, relay, enrollToken, d)
	if err != nil {
		return Credentials{}, false, err
	}
	if err := SaveCredentials(dir, c); err != nil {
		return Credentials{}, false, err
	}
	return c, true, nil
}

// lockConfigDir holds an exclusive lock on dir/.register.lock (creating dir
// 0700 if needed) until the returned function is called.
func lockConfigDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create config dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".register.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock config dir: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock config dir: %w", err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

func call(ctx context.Context, hc *http.Client, method, url, bearer string, body []byte, want int, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != want {
		return apiError(resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("parse answer: %w", err)
	}
	return nil
}

func apiError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var env protocol.ErrorBody
	if json.Unmarshal(body, &env) == nil {
		e.Code, e.Message = env.Error.Code, env.Error.Message
	}
	return e
}
