package commands

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// Bounds of the beep command's arguments (see docs/PROTOCOL.md and the contract).
const (
	BeepMinHz, BeepMaxHz, BeepDefaultHz = 100, 4000, 880
	BeepMinMs, BeepMaxMs, BeepDefaultMs = 20, 3000, 200
)

func beepCommand(d Desktop, unavailable func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        protocol.CommandBeep,
			Title:       "Beep",
			Description: "Plays a tone on the computer’s speaker.",
			Args: []protocol.ArgSpec{
				{Name: "frequency_hz", Type: protocol.ArgInteger, Min: protocol.Float(BeepMinHz), Max: protocol.Float(BeepMaxHz), Default: BeepDefaultHz},
				{Name: "duration_ms", Type: protocol.ArgInteger, Min: protocol.Float(BeepMinMs), Max: protocol.Float(BeepMaxMs), Default: BeepDefaultMs},
			},
		},
		DefaultOn: true,
		Rate:      1,
		Burst:     3,
		// The longest tone, plus time to open the sound device and drain its buffer.
		Timeout:     BeepMaxMs*time.Millisecond + 5*time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			hz, err := intArg(args, "frequency_hz", BeepMinHz, BeepMaxHz)
			if err != nil {
				return nil, err
			}
			ms, err := intArg(args, "duration_ms", BeepMinMs, BeepMaxMs)
			if err != nil {
				return nil, err
			}
			return nil, d.Beep(ctx, int(hz), time.Duration(ms)*time.Millisecond)
		},
	}
}

// intArg checks a second time, after the spec, that args[name] is an int64
// within [lo, hi].
func intArg(args map[string]any, name string, lo, hi int64) (int64, error) {
	v, ok := args[name].(int64)
	if !ok {
		return 0, protocol.Errorf(protocol.CodeInvalidArgs, "argument %q must be a whole number", name)
	}
	if v < lo || v > hi {
		return 0, protocol.Errorf(protocol.CodeInvalidArgs, "argument %q must be between %d and %d", name, lo, hi)
	}
	return v, nil
}
