package commands

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// TypeTextMax is the longest text type_text accepts, in runes.
const TypeTextMax = 1000

func typeTextCommand(c Controller, unavailable func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        protocol.CommandTypeText,
			Title:       "Type text",
			Description: "Types the text into the window that has the keyboard focus.",
			Args: []protocol.ArgSpec{
				{Name: "text", Type: protocol.ArgString, Required: true, MaxLen: TypeTextMax},
			},
		},
		Rate:  2,
		Burst: 2,
		// A few milliseconds per key: 1000 keys take a few seconds.
		Timeout:     15 * time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			text, err := textArg(args, "text", TypeTextMax)
			if err != nil {
				return nil, err
			}
			return nil, c.TypeText(ctx, text)
		},
	}
}
