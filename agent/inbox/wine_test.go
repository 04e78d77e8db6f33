//go:build linux

package inbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/winetest"
)

// TestUnderWine cross-builds this package's tests for Windows and runs
// them under Wine: the Windows code (free space through
// GetDiskFreeSpaceEx, the hard-link placement, the mark of the web) on a
// Windows API. Wine's drives have no named streams: there the mark is
// skipped, and TestMarkOfTheWeb checks only that nothing stray is left.
func TestUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Wine")
	}
	w := winetest.New(t, "")
	exe := filepath.Join(t.TempDir(), "inbox.test.exe")
	cmd := exec.Command("go", "test", "-c", "-o", exe, ".")
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the tests for windows: %v\n%s", err, out)
	}
	out, errOut, err := w.Run(t, 3*time.Minute, exe, "-test.v", "-test.run",
		"TestSafeName|TestNumbered|TestReceiveNeverOverwrites|TestReceiveRefusals|TestAbortAndCleanLeaveNoPart|TestEmptyFile|TestMarkOfTheWeb")
	t.Logf("under Wine:\n%s%s", out, errOut)
	if err != nil || !strings.Contains(out, "\nPASS") || strings.Contains(out, "--- FAIL") || !strings.Contains(out, ": TestMarkOfTheWeb (") {
		t.Fatalf("the tests failed under Wine: %v", err)
	}
}
