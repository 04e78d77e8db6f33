// Package desktoptest gives tests the real desktop pieces they need: a tool
// on PATH, or an X server of their own. Where a piece is missing the test is
// skipped, unless TETHER_REQUIRE_DESKTOP is set (scripts/test sets it): then
// it fails, so CI never passes by skipping.
package desktoptest

import (
	"bufio"
	"fmt"
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
	return StartXvfb(t, geometry).Display
}

// Server is an Xvfb that a test can kill and start again on the same display
// number, as a desktop session that ends and comes back. Its methods are for
// the test's goroutine only.
type Server struct {
	// Display is the DISPLAY value of the server, e.g. ":523".
	Display string

	t        testing.TB
	geometry string
	reset    bool // run without -noreset
	cmd      *exec.Cmd
	exited   chan struct{} // closed when cmd has been waited for
}

// StartXvfb is Xvfb, but returns the Server for Kill and Restart.
func StartXvfb(t testing.TB, geometry string) *Server {
	t.Helper()
	s := &Server{t: t, geometry: geometry}
	s.Display = s.start("")
	t.Cleanup(s.Kill)
	return s
}

// StartXvfbResetting is StartXvfb without -noreset: the server resets each
// time its last client leaves, as a bare X server does, and for a moment
// then refuses new clients. A client that opens and closes the display
// before another connects (as the agent once did before robotgo's first
// call) meets that moment.
func StartXvfbResetting(t testing.TB, geometry string) *Server {
	t.Helper()
	s := &Server{t: t, geometry: geometry, reset: true}
	s.Display = s.start("")
	t.Cleanup(s.Kill)
	return s
}

// StartXvfbAt is StartXvfb on a display number of its own picking, far above
// the numbers -displayfd hands out, so that no other test's Xvfb takes the
// number while this one is down between Kill and Restart.
func StartXvfbAt(t testing.TB, geometry string) *Server {
	t.Helper()
	Need(t, "Xvfb")
	s := &Server{t: t, geometry: geometry}
	t.Cleanup(s.Kill)
	for n := 600 + os.Getpid()%300; ; n++ {
		if n >= 1200 {
			t.Fatal("no free X display number between 600 and 1200")
		}
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		if d := s.start(fmt.Sprint(":", n)); d != "" {
			s.Display = d
			return s
		}
	}
}

// Kill ends the server with SIGKILL, the way a crashed X server goes, and
// waits for it to exit. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same display number, after Kill,
// and blocks until it accepts clients.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	if d := s.start(s.Display); d != s.Display {
		s.t.Fatalf("Xvfb did not start again on %s", s.Display)
	}
}

// start runs Xvfb on display (or on a number it picks when display is "")
// and returns the DISPLAY value once the server is ready; "" when a given
// display number is taken.
func (s *Server) start(display string) string {
	s.t.Helper()
	Need(s.t, "Xvfb")
	r, w, err := os.Pipe()
	if err != nil {
		s.t.Fatal(err)
	}
	defer r.Close()
	args := []string{"-displayfd", "3", "-nolisten", "tcp", "-screen", "0", s.geometry}
	if !s.reset {
		args = append(args, "-noreset")
	}
	if display != "" {
		args = append([]string{display}, args...)
	}
	cmd := exec.Command("Xvfb", args...)
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		s.t.Fatal(err)
	}
	w.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	got := make(chan string, 1)
	go func() { // ends when Xvfb writes its number or exits (r is closed by the defer above)
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			s.Kill()
			if display != "" {
				return ""
			}
			s.t.Fatal("Xvfb exited without a display number")
		}
		return ":" + n
	case <-time.After(time.Minute): // hang guard only
		s.Kill()
		s.t.Fatal("Xvfb did not report its display number")
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
