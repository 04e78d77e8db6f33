package desktop

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// childEnv marks a run of this test binary started by runChild; its value is
// the test the child must play.
const childEnv = "TETHER_DESKTOP_TEST_CHILD"

// isChild reports whether this process is the child run of test name.
func isChild(name string) bool { return os.Getenv(childEnv) == name }

// runChild runs test name again in a fresh process of this test binary, with
// env added, wrapped by the command in wrap (if any), and returns its output.
// Process-global state (the speaker, ALSA's configuration, the session bus
// address) then starts clean in every child.
func runChild(t *testing.T, name string, wrap []string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
	defer cancel()
	args := append(append([]string(nil), wrap...), os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", name, err, out)
	}
	t.Logf("child %s:\n%s", name, out)
	return string(out)
}
