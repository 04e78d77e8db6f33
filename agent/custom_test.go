//go:build !windows

package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// TestCustomCommandsFollowTheirFile writes custom-commands.json under a
// running agent: the commands appear in hello and in the status and run for
// real; an invalid file is refused with its reason in the status while the
// previous commands stay; switching one off in config.json removes it.
func TestCustomCommandsFollowTheirFile(t *testing.T) {
	r := newFakeRelay(t)
	cfg := testConfig(t, r)
	a := startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	path := filepath.Join(cfg.ConfigDir, commands.CustomFile)

	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path+".tmp", []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	nextHello := func() protocol.Hello { t.Helper(); return c.nextHello(t) }

	write(`[{"name":"greet","title":"Greet","argv":["printf","hello %s","{who}"],"args":[{"name":"who","type":"string","max_len":32}]}]`)
	h := nextHello()
	if spec := protocol.FindCommand(h.Commands, "greet"); spec == nil || spec.Title != "Greet" || spec.Args[0].MaxLen != 32 {
		t.Fatalf("hello commands %+v, want greet", h.Commands)
	}
	waitFor(t, "status lists greet", func() bool {
		st := a.Status()
		return slices.Equal(st.Custom, []string{"greet"}) && slices.Contains(st.Allowed, "greet")
	})

	c.command("g1", "greet", `{"who":"$(id)"}`)
	res := c.next(t, protocol.TypeResult)
	var out commands.CustomResult
	if res.OK == nil || !*res.OK || json.Unmarshal(res.Data, &out) != nil || out.Stdout != "hello $(id)" || out.ExitCode != 0 {
		t.Fatalf("greet result %+v data %s", res, res.Data)
	}

	// A clash with a built-in is refused; greet stays.
	write(`[{"name":"beep","argv":["/bin/true"]}]`)
	waitFor(t, "status shows the refusal", func() bool {
		return strings.Contains(a.Status().CustomError, "clashes with a built-in")
	})
	if st := a.Status(); !slices.Equal(st.Custom, []string{"greet"}) {
		t.Fatalf("after a refused file: custom %v, want greet kept", st.Custom)
	}
	c.command("g2", "greet", `{"who":"x"}`)
	if res := c.next(t, protocol.TypeResult); res.OK == nil || !*res.OK {
		t.Fatalf("greet after a refused file: %+v", res.Error)
	}

	// A valid file again clears the error; the owner switches one off.
	write(`[{"name":"greet","argv":["/bin/true"]},{"name":"other","argv":["/bin/true"]}]`)
	waitFor(t, "two custom commands", func() bool {
		st := a.Status()
		return st.CustomError == "" && len(st.Custom) == 2
	})
	s := Settings{}
	s.Set("other", false)
	if err := SaveSettings(cfg.ConfigDir, s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "other switched off", func() bool {
		st := a.Status()
		return slices.Contains(st.Allowed, "greet") && !slices.Contains(st.Allowed, "other")
	})
	c.command("o1", "other", "")
	for {
		res := c.next(t, protocol.TypeResult)
		if res.ID == "o1" {
			if res.Error == nil || res.Error.Code != protocol.CodeNotAllowed {
				t.Fatalf("switched-off custom command: %+v", res)
			}
			break
		}
	}

	// A file too large to read is refused; the same valid text again clears it.
	valid, _ := os.ReadFile(path)
	write(`[` + strings.Repeat(" ", commands.MaxCustomFileSize) + `]`)
	waitFor(t, "an oversized file refused", func() bool { return strings.Contains(a.Status().CustomError, "larger than") })
	write(string(valid))
	waitFor(t, "the valid file again", func() bool { st := a.Status(); return st.CustomError == "" && len(st.Custom) == 2 })

	// Removing the file removes the commands.
	os.Remove(path)
	waitFor(t, "custom commands gone", func() bool { return len(a.Status().Custom) == 0 })
}
