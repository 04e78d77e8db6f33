package commands

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tether-desktop/tether/protocol"
)

// Longest title and body of a notification, in runes.
const (
	NotifyMaxTitle = 100
	NotifyMaxBody  = 1000
)

func notifyCommand(d Desktop, unavailable func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        protocol.CommandNotify,
			Title:       "Notify",
			Description: "Shows a notification on the computer’s screen.",
			Args: []protocol.ArgSpec{
				{Name: "title", Type: protocol.ArgString, Required: true, MaxLen: NotifyMaxTitle},
				{Name: "body", Type: protocol.ArgString, MaxLen: NotifyMaxBody},
			},
		},
		DefaultOn:   true,
		Rate:        0.5,
		Burst:       3,
		Timeout:     10 * time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			title, err := textArg(args, "title", NotifyMaxTitle)
			if err != nil {
				return nil, err
			}
			if strings.TrimSpace(title) == "" {
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "argument %q must not be empty", "title")
			}
			var body string
			if _, ok := args["body"]; ok {
				if body, err = textArg(args, "body", NotifyMaxBody); err != nil {
					return nil, err
				}
			}
			return nil, d.Notify(ctx, title, body)
		},
	}
}

// textArg checks a second time, after the spec, that args[name] is a string
// of at most maxLen runes with no control characters but tab and newline.
func textArg(args map[string]any, name string, maxLen int) (string, error) {
	s, ok := args[name].(string)
	switch {
	case !ok:
		return "", protocol.Errorf(protocol.CodeInvalidArgs, "argument %q must be a string", name)
	case utf8.RuneCountInString(s) > maxLen:
		return "", protocol.Errorf(protocol.CodeInvalidArgs, "argument %q is longer than %d characters", name, maxLen)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return "", protocol.Errorf(protocol.CodeInvalidArgs, "argument %q contains control characters", name)
	}
	return s, nil
}
