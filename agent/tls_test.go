package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveCAFileRemembers(t *testing.T) {
	dir := t.TempDir()
	if got, err := ResolveCAFile(dir, ""); err != nil || got != "" {
		t.Fatalf("no CA: %q %v", got, err)
	}
	abs, err := ResolveCAFile(dir, "ca.pem")
	if err != nil || !filepath.IsAbs(abs) || !strings.HasSuffix(abs, "ca.pem") {
		t.Fatalf("given: %q %v", abs, err)
	}
	if got, err := ResolveCAFile(dir, ""); err != nil || got != abs {
		t.Fatalf("remembered: %q %v, want %q", got, err, abs)
	}
}

func TestClientsRefuseBadCAFiles(t *testing.T) {
	if hc, d, err := Clients(""); hc != nil || d != nil || err != nil {
		t.Fatalf("no CA file should give the defaults")
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, f := range []string{filepath.Join(dir, "missing.pem"), notPEM} {
		if _, _, err := Clients(f); err == nil {
			t.Errorf("Clients(%s) accepted it", f)
		}
	}
}
