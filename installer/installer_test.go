package installer

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./installer -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestGoldenFiles(t *testing.T) {
	unix := Config{Exe: "/usr/bin/tether", Relay: "https://relay.example.com"}
	odd := Config{Exe: "/opt/Tether Agent/tether", Relay: "https://relay.example.com/a%20b", ConfigDir: `/home/ann/my "tether"`}
	win := Config{Exe: `C:\Program Files\Tether\tether.exe`, Relay: "https://relay.example.com"}
	for _, tc := range []struct{ name, got string }{
		{"tether.service", SystemdUnit(unix)},
		{"tether-quoted.service", SystemdUnit(odd)},
		{"tether.desktop", DesktopEntry(unix)},
		{"tether-quoted.desktop", DesktopEntry(odd)},
		{"com.tether.agent.plist", LaunchAgentPlist(unix)},
		{"com.tether.agent-quoted.plist", LaunchAgentPlist(odd)},
		{"tether-run.reg", WindowsRunReg(win)},
		{"tether-run-quoted.reg", WindowsRunReg(Config{Exe: win.Exe, Relay: win.Relay, ConfigDir: `C:\Users\Ann\tether dir\`})},
	} {
		t.Run(tc.name, func(t *testing.T) { golden(t, tc.name, tc.got) })
	}
}

func TestWindowsQuoting(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`plain`, `plain`},
		{`C:\Program Files\x.exe`, `"C:\Program Files\x.exe"`},
		{`a"b`, `"a\"b"`},
		{`dir\ `, `"dir\ "`},
		{`C:\a b\`, `"C:\a b\\"`},
		{``, `""`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := windowsQuote(tc.in); got != tc.want {
				t.Errorf("windowsQuote(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

// snapshot lists every file and directory under root.
func snapshot(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	return out
}

func TestInstallUninstallLeavesNothingBehind(t *testing.T) {
	for _, tc := range []struct {
		target Target
		file   string // relative to the home
		calls  []string
	}{
		{SystemdUser, ".config/systemd/user/tether.service", []string{
			"systemctl --user daemon-reload", "systemctl --user enable --now tether.service",
			"systemctl --user disable --now tether.service", "systemctl --user daemon-reload"}},
		{XDGAutostart, ".config/autostart/tether.desktop", nil},
		{LaunchAgent, "Library/LaunchAgents/com.tether.agent.plist", []string{
			"launchctl bootout gui/501/com.tether.agent", "launchctl bootstrap gui/501 HOME/Library/LaunchAgents/com.tether.agent.plist",
			"launchctl bootout gui/501/com.tether.agent"}},
	} {
		t.Run(string(tc.target), func(t *testing.T) {
			home := t.TempDir()
			// Something of the user's that must survive.
			os.MkdirAll(filepath.Join(home, ".config", "other"), 0o755)
			before := snapshot(t, home)
			var calls []string
			in, err := New(Config{Exe: "/usr/bin/tether", Relay: "https://relay.example.com", Home: home, XDGConfigHome: filepath.Join(home, ".config"),
				Target: tc.target, UID: 501, Run: func(name string, args ...string) error {
					calls = append(calls, strings.ReplaceAll(name+" "+strings.Join(args, " "), home, "HOME"))
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			if in.Path() != filepath.Join(home, tc.file) {
				t.Fatalf("path %s", in.Path())
			}
			for range 2 { // idempotent
				if err := in.Install(); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := in.Installed(); !ok || err != nil {
				t.Fatalf("installed = %v, %v", ok, err)
			}
			b, err := os.ReadFile(in.Path())
			if err != nil || !strings.Contains(string(b), "/usr/bin/tether") {
				t.Fatalf("installed file: %v %q", err, b)
			}
			for range 2 {
				if err := in.Uninstall(); err != nil {
					t.Fatal(err)
				}
			}
			if ok, _ := in.Installed(); ok {
				t.Error("still installed")
			}
			if after := snapshot(t, home); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the home changed:\nbefore %v\nafter  %v", before, after)
			}
			// The manager was told once per install and once per real uninstall.
			want := tc.calls
			if tc.target == SystemdUser {
				want = []string{want[0], want[1], want[0], want[1], want[2], want[3]}
			}
			if tc.target == LaunchAgent {
				want = []string{want[0], want[1], want[0], want[1], want[2]}
			}
			if strings.Join(calls, "\n") != strings.Join(want, "\n") {
				t.Errorf("service manager calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestManagerFailureIsAClearError(t *testing.T) {
	home := t.TempDir()
	in, err := New(Config{Exe: "/usr/bin/tether", Home: home, Target: SystemdUser,
		Run: func(name string, args ...string) error {
			return &os.PathError{Op: "exec", Path: name, Err: fs.ErrNotExist}
		}})
	if err != nil {
		t.Fatal(err)
	}
	err = in.Install()
	if err == nil || !strings.Contains(err.Error(), "systemd user manager") {
		t.Fatalf("install without a manager: %v", err)
	}
	if _, err := New(Config{Exe: "tether"}); err == nil {
		t.Error("a relative executable path was accepted")
	}
}

func TestDefaultTargetFallsBackToXDG(t *testing.T) {
	if DefaultTarget(func(string, ...string) error { return fs.ErrNotExist }) != XDGAutostart && DefaultTarget(nil) == "" {
		t.Fatal("no target")
	}
}

func TestUnattendedServiceDescription(t *testing.T) {
	c := Config{Exe: "/usr/bin/tether", Relay: "https://relay.example.com", ConfigDir: "/var/lib/tether"}
	sc := UnattendedConfig(c)
	got := strings.Join(append([]string{sc.Name, sc.Executable}, sc.Arguments...), " ")
	want := "tether-unattended /usr/bin/tether run --relay https://relay.example.com --config-dir /var/lib/tether --no-tray --unattended"
	if got != want {
		t.Errorf("service %q, want %q", got, want)
	}
	s, err := Unattended(c)
	if err != nil {
		t.Fatal(err)
	}
	if s.Platform() == "" || s.String() != "Tether agent (unattended)" {
		t.Errorf("service %q on %q", s.String(), s.Platform())
	}
}
