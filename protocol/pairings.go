package protocol

import "time"

// This file holds what the relay tells a device about the browsers paired
// with it: the relay → agent "pairing" frame, the answer of GET
// /api/v1/device/pairings, and where a forwarded command came from.

// TypePairing is the relay → agent frame sent when a browser pairs with the
// device: {"type":"pairing","device":"d_…","ts":"…","data":PairedBrowser}
// (without last_seen). Agents that do not know it ignore it.
const TypePairing = "pairing"

func init() {
	// Decode accepts only known types; this one is declared here, beside
	// its payload.
	knownTypes[TypePairing] = true
}

// Limits of the texts a pairing carries.
const (
	MaxBrowserNameRunes = 64 // runes in a paired browser's name
	MaxPairingIDLen     = 64 // bytes in a pairing id
)

// PairedBrowser is one browser (or script) paired with a device, as its
// owner sees it: the element of GET /api/v1/device/pairings and the data of
// a "pairing" frame. ID is the pairing's own id (random, never a session's
// token); Name is derived by the relay from the browser's User-Agent
// ("Chrome on Android", "curl"); Address is the client address the relay saw
// it pair from; LastSeen is when it last opened or closed a socket, called
// the API or sent the device a command (nil when never since pairing).
type PairedBrowser struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Address  string     `json:"address"`
	PairedAt time.Time  `json:"paired_at"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// CommandFrom is the data the relay puts on a command it forwards to an
// agent: which pairing sent it. The relay always sets it itself, whatever
// the client sent, so an agent may trust it as far as it trusts the relay.
// Both fields are empty when the relay does not know them.
type CommandFrom struct {
	Pairing string `json:"pairing,omitempty"`
	Browser string `json:"browser,omitempty"`
}
