package store

import (
	"crypto/rand"
	"encoding/hex"
)

// pairingIDPrefix starts every pairing id, so that one is recognisable.
const pairingIDPrefix = "p_"

// newPairingID returns a random pairing id: 96 random bits, unrelated to
// the session's id or token, so that showing it to the device's owner
// reveals nothing of the browser's credentials.
func newPairingID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return pairingIDPrefix + hex.EncodeToString(b[:])
}
