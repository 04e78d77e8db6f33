package protocol

import "time"

// This file holds the bodies of the relay's HTTP API (/api/v1/…), defined
// once for both sides: the relay writes them, the agent and other clients
// read them. Field names are fixed by the contract.

// API paths, relative to the relay's base URL.
const (
	PathDevices       = "/api/v1/devices"         // POST: register (RegisterRequest → Registration); GET: a session's devices ([]DeviceEntry)
	PathDevice        = "/api/v1/device"          // GET, device token: DeviceInfo
	PathPairingCodes  = "/api/v1/pairing-codes"   // POST, device token: PairingCode
	PathDevicePairing = "/api/v1/device/pairings" // device token: GET []PairedBrowser; DELETE forgets every paired browser, DELETE …/{id} one
	PathPairings      = "/api/v1/pairings"        // POST: PairRequest → Pairing; DELETE …/{device_id}, session
)

// ErrorBody is the envelope of every error answer of the HTTP API:
// {"error":{"code":"…","message":"…"}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// RegisterRequest is the body of POST /api/v1/devices: a new device.
type RegisterRequest struct {
	Name string `json:"name"`
	OS   string `json:"os"`
}

// Registration is the 201 answer of POST /api/v1/devices: the new device's
// identity. DeviceToken is a secret.
type Registration struct {
	DeviceID    string `json:"device_id"`
	DeviceToken string `json:"device_token"`
}

// PairingCode is the 201 answer of POST /api/v1/pairing-codes: a short-lived
// code a person types (or a link they open) to pair a browser with the
// device.
type PairingCode struct {
	Code      string    `json:"code"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PairRequest is the body of POST /api/v1/pairings: a browser or script
// redeems a pairing code. Label is optional.
type PairRequest struct {
	Code  string `json:"code"`
	Label string `json:"label,omitempty"`
}

// Pairing is the 201 answer of POST /api/v1/pairings. SessionToken is a
// secret.
type Pairing struct {
	DeviceID     string `json:"device_id"`
	DeviceName   string `json:"device_name"`
	SessionToken string `json:"session_token"`
}

// DeviceEntry is one element of the 200 answer of GET /api/v1/devices: a
// device paired with the calling session. LastSeen is RFC 3339, empty when
// the device was never seen.
type DeviceEntry struct {
	DeviceID     string   `json:"device_id"`
	Name         string   `json:"name"`
	OS           string   `json:"os"`
	Online       bool     `json:"online"`
	LastSeen     string   `json:"last_seen,omitempty"`
	Capabilities []string `json:"capabilities"`
	// PairedAs and PairedAt describe the calling session's own pairing with
	// the device: the name the relay gave the browser and when it paired
	// (RFC 3339), as the device's owner sees them.
	PairedAs string `json:"paired_as,omitempty"`
	PairedAt string `json:"paired_at,omitempty"`
}

// DeviceInfo is the 200 answer of GET /api/v1/device: the calling device as
// the relay knows it, with the number of browser sessions paired with it.
type DeviceInfo struct {
	DeviceID       string `json:"device_id"`
	Name           string `json:"name"`
	PairedBrowsers int    `json:"paired_browsers"`
}
