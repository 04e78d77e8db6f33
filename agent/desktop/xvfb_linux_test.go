//go:build cgo && linux

package desktop

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needTools skips the test when a tool is missing, unless
// TETHER_REQUIRE_DESKTOP is set (scripts/test sets it): then it fails.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("TETHER_REQUIRE_DESKTOP") != "" {
				t.Fatalf("%s is required (TETHER_REQUIRE_DESKTOP is set): %v; run scripts/setup --test", n, err)
			}
			t.Skipf("%s not found (scripts/setup --test installs it): %v", n, err)
		}
	}
}

// startXvfb runs an X server on a display number it picks itself
// (-displayfd), with -noreset so that the pointer stays put when the last
// client leaves, and returns the DISPLAY value. It stops with the test.
func startXvfb(t *testing.T, geometry string) string {
	t.Helper()
	needTools(t, "Xvfb")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-noreset", "-nolisten", "tcp", "-screen", "0", geometry)
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			t.Fatal("Xvfb exited without a display number")
		}
		return ":" + n
	case <-time.After(time.Minute): // hang guard only
		t.Fatal("Xvfb did not report its display number")
	}
	return ""
}

// run runs a command of the X tools on display and returns its output.
func run(t *testing.T, display string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
