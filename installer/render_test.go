package installer

import (
	"strings"
	"testing"
)

// TestControlCharactersRefused: a newline in --relay or --config-dir would
// end the ExecStart= line and add a directive of the caller's choosing
// (here ExecStartPre=, which systemd would run at every start). New and
// Unattended refuse such values before anything is rendered.
func TestControlCharactersRefused(t *testing.T) {
	const attack = "\nExecStartPre=/bin/sh -c 'touch /tmp/owned'"
	// What the attack would do: with the value unchecked, the unit gains a line.
	unit := SystemdUnit(Config{Exe: "/usr/bin/tether", Relay: "https://r.example" + attack})
	if !strings.Contains(unit, "\nExecStartPre=/bin/sh") {
		t.Fatalf("the renderer no longer lets a newline through; this test must be rewritten:\n%s", unit)
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"newline in relay", Config{Relay: "https://r.example" + attack}, "relay"},
		{"carriage return in relay", Config{Relay: "https://r.example\rx"}, "relay"},
		{"newline in config dir", Config{ConfigDir: "/home/ann/t" + attack}, "config directory"},
		{"tab in config dir", Config{ConfigDir: "/home/ann/a\tb"}, "config directory"},
		{"NUL in relay", Config{Relay: "https://r.example\x00"}, "relay"},
		{"escape in config dir", Config{ConfigDir: "/tmp/\x1b[2J"}, "config directory"},
		{"DEL in relay", Config{Relay: "https://r.example\x7f"}, "relay"},
		{"C1 next line in relay", Config{Relay: "https://r.example\u0085x"}, "relay"},
		{"line separator in config dir", Config{ConfigDir: "/tmp/a\u2028b"}, "config directory"},
		{"newline in executable", Config{Exe: "/usr/bin/tether\nExecStartPre=/bin/true"}, "executable path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Exe == "" {
				cfg.Exe = "/usr/bin/tether"
			}
			cfg.Home, cfg.XDGConfigHome, cfg.Target = t.TempDir(), t.TempDir(), SystemdUser
			cfg.Run = func(string, ...string) error { t.Fatal("a service manager was run"); return nil }
			err := cfg.Check()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Check = %v, want an error naming the %s", err, tc.field)
			}
			if i, err := New(cfg); err == nil {
				t.Fatalf("New accepted it: would write\n%s", SystemdUnit(i.cfg))
			}
			if _, err := Unattended(cfg); err == nil {
				t.Fatal("Unattended accepted it")
			}
		})
	}
}

func TestCheckAcceptsOrdinaryValues(t *testing.T) {
	for _, c := range []Config{
		{Exe: "/usr/bin/tether"},
		{Exe: "/opt/Tether Agent/tether", Relay: "https://relay.example.com/a%20b?x=$y", ConfigDir: `/home/ann/my "tether" ü 日本`},
		{Exe: `C:\Program Files\Tether\tether.exe`, Relay: "http://[::1]:8080", ConfigDir: `C:\Users\Ann\tether dir\`},
	} {
		if err := c.Check(); err != nil {
			t.Errorf("Check(%+v) = %v", c, err)
		}
	}
}
