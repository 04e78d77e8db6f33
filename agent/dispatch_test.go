package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-desktop/tether/agent/activity"
	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// TestActivityLogHasWhatWasAnswered: a command whose result is too large
// for the relay is answered too_large, and the activity log says so rather
// than ok.
func TestActivityLogHasWhatWasAnswered(t *testing.T) {
	r := newFakeRelay(t)
	r.maxFrame = 1024
	cfg := testConfig(t, r)
	custom := `[{"name":"chatty","title":"Chatty","argv":["head","-c","4000","/dev/zero"]}]`
	if err := os.MkdirAll(cfg.ConfigDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.ConfigDir, commands.CustomFile), []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	startAgent(t, cfg, nil)
	c := r.nextConn(t)
	c.next(t, protocol.TypeHello)
	c.command("c1", "chatty", `{}`)
	res := c.next(t, protocol.TypeResult)
	if res.Error == nil || res.Error.Code != protocol.CodeTooLarge {
		t.Fatalf("result %+v, want too_large", res)
	}
	var got []activity.Entry
	waitFor(t, "the command in the activity log", func() bool {
		got, _ = activity.Read(cfg.ConfigDir)
		return len(got) == 1
	})
	if e := got[0]; e.Command != "chatty" || e.OK || e.Code != protocol.CodeTooLarge {
		t.Fatalf("entry = %+v, want chatty answered too_large", e)
	}
}
