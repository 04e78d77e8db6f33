package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewPairingCode(t *testing.T) {
	const n = 20000
	seen := map[string]bool{}
	counts := map[rune]int{}
	for i := 0; i < n; i++ {
		c := NewPairingCode()
		if len(c) != 9 || c[4] != '-' {
			t.Fatalf("code %q is not XXXX-XXXX", c)
		}
		if norm, ok := NormalizeCode(c); !ok || norm != c {
			t.Fatalf("code %q does not normalise to itself (%q, %v)", c, norm, ok)
		}
		if seen[c] {
			t.Fatalf("code %q repeated within %d codes", c, i)
		}
		seen[c] = true
		for _, r := range strings.ReplaceAll(c, "-", "") {
			counts[r]++
		}
	}
	// Every symbol of the alphabet appears, none outside it, and none far
	// from its share (8·n/31 ≈ 5161; ±15 % is over 8 standard deviations).
	if len(counts) != len(CodeAlphabet) {
		t.Fatalf("%d distinct symbols, want %d", len(counts), len(CodeAlphabet))
	}
	want := float64(8*n) / float64(len(CodeAlphabet))
	for r, c := range counts {
		if !strings.ContainsRune(CodeAlphabet, r) {
			t.Fatalf("symbol %q outside the alphabet", r)
		}
		if f := float64(c) / want; f < 0.85 || f > 1.15 {
			t.Errorf("symbol %q appears %d times, want about %.0f", r, c, want)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ABCD-2345", "ABCD-2345", true},
		{"abcd2345", "ABCD-2345", true},
		{" ab cd - 23 45 ", "ABCD-2345", true},
		{"ABCD--2345", "ABCD-2345", true},
		{"ABCD-234", "", false},      // too short
		{"ABCD-23456", "", false},    // too long
		{"ABCD-2O45", "", false},     // O is not in the alphabet
		{"ABCD-2I45", "", false},     // nor I
		{"ABCD-2145", "", false},     // nor 1
		{"ABCD-2345\x00", "", false}, // control character
		{"ÄBCD-2345", "", false},
		{"", "", false},
		{strings.Repeat("A", 1000), "", false},
	} {
		got, ok := NormalizeCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTokensAndIDs(t *testing.T) {
	a, b := newToken(deviceTokenPrefix), newToken(deviceTokenPrefix)
	if a == b || !strings.HasPrefix(a, "tdt_") || len(a) != 4+43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if string(hashToken(a)) == a || len(hashToken(a)) != 32 {
		t.Fatalf("hash of a token")
	}
	id := newID("d_")
	if !strings.HasPrefix(id, "d_") || len(id) != 2+16 || strings.ToLower(id) != id {
		t.Fatalf("id %q", id)
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "code.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil || len(k1) != 32 {
		t.Fatalf("create: %v (%d bytes)", err, len(k1))
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("reload gave another key (%v)", err)
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatalf("a short key was accepted")
	}
}
