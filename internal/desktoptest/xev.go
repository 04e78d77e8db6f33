package desktoptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Xev is a real X client, xev, whose window has the keyboard focus: what is
// typed on the display lands in it, and Typed reads it back.
type Xev struct {
	log string
}

// StartXev opens an xev window named name on display, waits until it shows
// and focuses it. xev is stopped when the test ends.
func StartXev(t testing.TB, display, name string) *Xev {
	t.Helper()
	Need(t, "xev", "xdotool")
	log := filepath.Join(t.TempDir(), "xev.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	xev := exec.Command("xev", "-event", "keyboard", "-name", name, "-geometry", "300x200+0+0")
	xev.Env = append(os.Environ(), "DISPLAY="+display)
	xev.Stdout = f
	if err := xev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xev.Process.Kill(); xev.Wait() })
	var win string
	deadline := time.Now().Add(30 * time.Second) // hang guard only
	for win == "" {
		if time.Now().After(deadline) {
			t.Fatal("xev's window never appeared")
		}
		time.Sleep(50 * time.Millisecond)
		cmd := exec.Command("xdotool", "search", "--name", name)
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		out, _ := cmd.Output()
		win = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	Run(t, display, "xdotool", "windowfocus", "--sync", win)
	return &Xev{log: log}
}

// WaitTyped waits until at least len(want) bytes were typed into the window
// (a hang guard of 30 s) and returns what was typed.
func (x *Xev) WaitTyped(want string) string {
	deadline := time.Now().Add(30 * time.Second)
	for {
		typed := x.Typed()
		if len(typed) >= len(want) || time.Now().After(deadline) {
			return typed
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Typed rebuilds the text typed into the window so far from xev's KeyPress
// reports: the characters XLookupString gave, Return as "\n", Tab as "\t".
func (x *Xev) Typed() string {
	b, _ := os.ReadFile(x.log)
	return xevText(string(b))
}

var (
	xevPress  = regexp.MustCompile(`(?m)^KeyPress event`)
	xevLookup = regexp.MustCompile(`XLookupString gives (\d+) bytes: (?:\(([0-9a-f ]*)\) )?"`)
	xevKeysym = regexp.MustCompile(`\(keysym 0x([0-9a-f]+), ([^)]+)\)`)
)

func xevText(log string) string {
	var out strings.Builder
	idx := xevPress.FindAllStringIndex(log, -1)
	for i, at := range idx {
		end := len(log)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		ev := log[at[0]:end]
		if end := strings.Index(ev, "\n\n"); end >= 0 {
			ev = ev[:end]
		}
		ks := xevKeysym.FindStringSubmatch(ev)
		if ks == nil {
			continue
		}
		switch ks[2] {
		case "Return":
			out.WriteString("\n")
			continue
		case "Tab":
			out.WriteString("\t")
			continue
		}
		m := xevLookup.FindStringSubmatch(ev)
		if m == nil || m[1] == "0" {
			continue
		}
		for _, h := range strings.Fields(m[2]) {
			var b byte
			fmt.Sscanf(h, "%x", &b)
			out.WriteByte(b)
		}
	}
	return out.String()
}
