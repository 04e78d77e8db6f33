package desktop

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
)

// pbClipboard reads and writes the macOS pasteboard with pbpaste and pbcopy.
type pbClipboard struct{}

func newClipboard(*slog.Logger) clipboard { return pbClipboard{} }

func (pbClipboard) get(ctx context.Context) (string, bool, error) {
	out, err := macTool(ctx, "/usr/bin/pbpaste")
	if err != nil {
		return "", false, err
	}
	s, cut := clipText([]byte(out), false)
	return s, cut, nil
}

func (pbClipboard) set(ctx context.Context, text string) error {
	cmd := exec.CommandContext(ctx, "/usr/bin/pbcopy")
	cmd.Stdin = strings.NewReader(text)
	return cmd.Run()
}

func (pbClipboard) unavailable(screenBackend) string { return "" }
func (pbClipboard) close()                           {}
