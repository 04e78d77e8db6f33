// Package desktoptest gives tests the real desktop pieces they need: a tool
// on PATH, or an X server of their own. Where a piece is missing the test is
// skipped, unless TETHER_REQUIRE_DESKTOP is set (scripts/test sets it): then
// it fails, so CI never passes by skipping.
package desktoptest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Need returns the paths of the named tools, skipping or failing the test
// (see the package comment) when one is missing.
func Need(t testing.TB, names ...string) []string {
	t.Helper()
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			if os.Getenv("TETHER_REQUIRE_DESKTOP") != "" {
				t.Fatalf("%s is required (TETHER_REQUIRE_DESKTOP is set); scripts/setup --test installs it: %v", n, err)
			}
			t.Skipf("%s not found (scripts/setup --test installs it): %v", n, err)
		}
		paths[i] = p
	}
	return paths
}

// Xvfb runs an X server with one screen of geometry (e.g. "1280x800x24") on
// a display number it picks itself (-displayfd), with -noreset so the pointer
// stays put when the last client leaves, and returns the DISPLAY value. It
// blocks until the server is ready and stops with the test.
func Xvfb(t testing.TB, geometry string) string {
	t.Helper()
	Need(t, "Xvfb")
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
	go func() { // ends when Xvfb writes its number or exits (r is closed by the defer above)
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
		return ""
	}
}

// Run runs an X tool (xdotool, xsetroot, …) on display and returns its
// output; a failure fails the test.
func Run(t testing.TB, display, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
