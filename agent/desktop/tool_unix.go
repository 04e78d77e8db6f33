//go:build linux || darwin

package desktop

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// toolBound bounds one run of a helper program (loginctl, pactl).
const toolBound = 5 * time.Second

// runTool runs name with args under toolBound and returns its stdout; a
// failure carries the program's own words (stderr, else stdout).
func runTool(ctx context.Context, name string, args ...string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed", name)
	}
	ctx, cancel := context.WithTimeout(ctx, toolBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), protocol.CleanText(msg, 160))
	}
	return out.String(), nil
}
