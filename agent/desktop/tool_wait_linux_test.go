package desktop

import (
	"context"
	"strings"
	"testing"
)

// TestRunToolWaitsInThePoller: a helper program run through runTool (which
// now waits for its end in the runtime's poller before reaping it) still
// gives its output, its own words on failure, and its exit status.
func TestRunToolWaitsInThePoller(t *testing.T) {
	ctx := context.Background()
	out, err := runTool(ctx, "sh", "-c", "sleep 0.2; echo done")
	if err != nil || out != "done\n" {
		t.Fatalf("runTool = %q, %v", out, err)
	}
	_, err = runTool(ctx, "sh", "-c", "echo out; echo refused >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a failing tool: %v", err)
	}
	if _, err := runTool(ctx, "sh", "-c", "exit 0"); err != nil {
		t.Fatalf("a tool that ends at once: %v", err)
	}
	for range 50 { // short runs, some ending before the wait begins
		if out, err := runTool(ctx, "true"); err != nil || out != "" {
			t.Fatalf("true = %q, %v", out, err)
		}
	}
}
