//go:build linux

package commands

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/desktoptest"
	"github.com/tether-desktop/tether/internal/winetest"
	"github.com/tether-desktop/tether/protocol"
)

// TestCustomCommandsOnWindows runs the Windows build of RunCustom under Wine
// (testdata/wincustom): arguments arrive as literal elements through
// Windows' command-line quoting, a command past its timeout is killed with
// its child (taskkill /T), and huge output is cut.
func TestCustomCommandsOnWindows(t *testing.T) {
	if testing.Short() {
		t.Skip("makes a Wine prefix")
	}
	t.Cleanup(winetest.Cleanup)
	w := winetest.New(t, desktoptest.Xvfb(t, "640x480x24"))
	exe := winetest.BuildNoCgo(t, "./testdata/wincustom")
	self := winetest.Path(exe)
	run := func(def, args string) (CustomResult, *protocol.Error) {
		t.Helper()
		out, errOut, err := w.Run(t, 2*time.Minute, exe, def, args)
		if err != nil {
			t.Fatalf("wincustom: %v\n%s\n%s", err, out, errOut)
		}
		var got struct {
			Result CustomResult
			Error  *protocol.Error
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("wincustom printed %q: %v", out, err)
		}
		return got.Result, got.Error
	}
	def := func(name string, timeoutMS int, argv ...string) string {
		b, _ := json.Marshal(CustomDef{Name: name, Argv: argv, TimeoutMS: timeoutMS,
			Args: []protocol.ArgSpec{{Name: "text", Type: protocol.ArgString, MaxLen: 200}}})
		return string(b)
	}

	t.Run("arguments arrive literally", func(t *testing.T) {
		inj := `a "b" \" & calc | del C:\ %PATH% $(x) ^`
		res, perr := run(def("echo", 0, self, "echo-args", "{text}", "two words"), string(protocol.MustData(map[string]string{"text": inj})))
		if perr != nil {
			t.Fatal(perr)
		}
		if want := "[" + inj + "]\n[two words]\n"; strings.ReplaceAll(res.Stdout, "\r\n", "\n") != want || res.ExitCode != 0 {
			t.Fatalf("stdout %q (exit %d), want %q", res.Stdout, res.ExitCode, want)
		}
	})

	t.Run("huge output", func(t *testing.T) {
		res, perr := run(def("flood", 0, self, "flood"), `{}`)
		if perr != nil {
			t.Fatal(perr)
		}
		if len(res.Stdout) != MaxCustomOutput || !res.StdoutTruncated || len(res.Stderr) != MaxCustomOutput || !res.StderrTruncated || res.ExitCode != 7 {
			t.Fatalf("stdout %d bytes (%v), stderr %d (%v), exit %d", len(res.Stdout), res.StdoutTruncated, len(res.Stderr), res.StderrTruncated, res.ExitCode)
		}
	})

	t.Run("timeout kills the tree", func(t *testing.T) {
		marker := fmt.Sprintf("tether-hang-%d", time.Now().UnixNano())
		_, perr := run(def("hang", 3000, self, "spawn", marker), `{}`)
		if perr == nil || perr.Code != protocol.CodeTimeout {
			t.Fatalf("got %v, want timeout", perr)
		}
		deadline := time.Now().Add(30 * time.Second)
		for hanging(marker) {
			if time.Now().After(deadline) {
				t.Fatalf("the child %s still runs after the timeout", marker)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// hanging reports whether a process whose command line holds marker runs.
func hanging(marker string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), marker) && !strings.Contains(string(b), "spawn") {
			if stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat")); err == nil {
				f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
				if len(f) > 0 && f[0] != "Z" {
					return true
				}
			}
		}
	}
	return false
}
