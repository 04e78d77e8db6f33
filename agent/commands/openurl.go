package commands

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// OpenURLMax is the longest link open_url accepts, in characters.
const OpenURLMax = 2048

func openURLCommand(c Controller, unavailable func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        "open_url",
			Title:       "Open link",
			Description: "Opens a web link in the computer’s browser.",
			Args: []protocol.ArgSpec{
				{Name: "url", Type: protocol.ArgURL, Required: true, MaxLen: OpenURLMax, Schemes: []string{"http", "https"}},
			},
		},
		Rate:        1,
		Burst:       2,
		Timeout:     10 * time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			raw, err := textArg(args, "url", OpenURLMax)
			if err != nil {
				return nil, err
			}
			// Checked again after the spec: only an absolute http(s) URL
			// with a host ever reaches the opener.
			u, err := url.Parse(raw)
			if err != nil || !u.IsAbs() || u.Hostname() == "" || strings.HasPrefix(raw, "-") {
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "open_url: argument \"url\" must be an absolute http or https URL")
			}
			if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "open_url: argument \"url\" must be an absolute http or https URL")
			}
			return nil, c.OpenURL(ctx, raw)
		},
	}
}
