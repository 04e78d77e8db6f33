package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tether-desktop/tether/internal/perm"
)

// CodeAlphabet is the alphabet of pairing codes: capital letters and digits
// without the ones people confuse (0/O, 1/I/L).
const CodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// codeLen is the number of symbols in a pairing code, shown as two groups of
// four: 31^8 ≈ 8.5·10^11 codes, about 39.6 bits.
const codeLen = 8

// NewPairingCode returns a random code such as "ABCD-2345".
func NewPairingCode() string {
	b := make([]byte, 0, codeLen+1)
	for i := 0; i < codeLen; i++ {
		if i == codeLen/2 {
			b = append(b, '-')
		}
		b = append(b, CodeAlphabet[randIndex(len(CodeAlphabet))])
	}
	return string(b)
}

// NormalizeCode turns what a person typed into the canonical "ABCD-2345"
// form: case, spaces and dashes do not matter. It reports false when the
// input cannot be a code.
func NormalizeCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r < 128 && strings.IndexByte(CodeAlphabet, byte(r)) >= 0:
			if b.Len() == codeLen/2 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
		default:
			return "", false
		}
		if b.Len() > codeLen+1 {
			return "", false
		}
	}
	if b.Len() != codeLen+1 {
		return "", false
	}
	return b.String(), true
}

// randIndex returns a uniform random number in [0, n) from crypto/rand,
// rejecting bytes that would bias the result.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("crypto/rand: " + err.Error()) // never fails on supported systems
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// newToken returns prefix followed by 32 random bytes in unpadded base64url.
func newToken(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// newID returns prefix followed by 10 random bytes in lower-case base32.
func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// hashToken is how tokens are stored: SHA-256. Tokens carry 256 random bits,
// so a plain hash is enough to make a stolen database useless.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// hashCode is how pairing codes are stored: HMAC-SHA-256 under a key kept
// outside the database, because a code has only about 40 bits.
func (s *Server) hashCode(code string) []byte {
	m := hmac.New(sha256.New, s.cfg.CodeKey)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// LoadOrCreateKey reads the 32-byte secret at path, creating it (owner-only)
// on first use. The relay hashes pairing codes with it. An existing key file
// that others could read is tightened to 0600 (logged on slog.Default); one
// that belongs to another user is refused (perm.PrivateFile).
func LoadOrCreateKey(path string) ([]byte, error) {
	if err := perm.PrivateFile(path, nil); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) < 32 {
			return nil, fmt.Errorf("key file %s is too short (%d bytes)", path, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create key dir: %w", err)
	}
	key = make([]byte, 32)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync key: %w", err)
	}
	return key, f.Close()
}
