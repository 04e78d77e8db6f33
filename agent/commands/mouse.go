package commands

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// MaxCoordinate bounds x and y in the specs of mouse_move and mouse_click;
// the handlers then check them against the real screen.
const MaxCoordinate = 32767

func coordArgs(required bool) []protocol.ArgSpec {
	return []protocol.ArgSpec{
		{Name: "x", Type: protocol.ArgInteger, Required: required, Min: protocol.Float(0), Max: protocol.Float(MaxCoordinate)},
		{Name: "y", Type: protocol.ArgInteger, Required: required, Min: protocol.Float(0), Max: protocol.Float(MaxCoordinate)},
	}
}

func mouseMoveCommand(c Controller, unavailable func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        protocol.CommandMouseMove,
			Title:       "Move pointer",
			Description: "Moves the pointer to a point on the screen.",
			Args:        coordArgs(true),
		},
		Rate:        20,
		Burst:       20,
		Timeout:     5 * time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			x, y, err := onScreen(c, "mouse_move", args)
			if err != nil {
				return nil, err
			}
			return nil, c.MoveMouse(ctx, x, y)
		},
	}
}

func mouseClickCommand(c Controller, unavailable func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{
			Name:        protocol.CommandMouseClick,
			Title:       "Click",
			Description: "Clicks a mouse button; at a point on the screen when x and y are given.",
			Args: append([]protocol.ArgSpec{
				{Name: "button", Type: protocol.ArgString, Enum: []string{protocol.ButtonLeft, protocol.ButtonRight, protocol.ButtonMiddle}, Default: protocol.ButtonLeft},
			}, coordArgs(false)...),
		},
		Rate:        20,
		Burst:       20,
		Timeout:     5 * time.Second,
		Unavailable: unavailable,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			button, _ := args["button"].(string)
			switch button {
			case protocol.ButtonLeft, protocol.ButtonRight, protocol.ButtonMiddle:
			default:
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "mouse_click: argument \"button\" must be left, right or middle")
			}
			_, hasX := args["x"]
			_, hasY := args["y"]
			if hasX != hasY {
				return nil, protocol.Errorf(protocol.CodeInvalidArgs, "mouse_click: give both x and y, or neither")
			}
			if hasX {
				x, y, err := onScreen(c, "mouse_click", args)
				if err != nil {
					return nil, err
				}
				if err := c.MoveMouse(ctx, x, y); err != nil {
					return nil, err
				}
			}
			return nil, c.Click(ctx, button)
		},
	}
}

// onScreen reads x and y from args and checks them against the real screen.
func onScreen(c Controller, name string, args map[string]any) (int, int, error) {
	x, err := intArg(args, "x", 0, MaxCoordinate)
	if err != nil {
		return 0, 0, err
	}
	y, err := intArg(args, "y", 0, MaxCoordinate)
	if err != nil {
		return 0, 0, err
	}
	w, h, err := c.ScreenSize()
	if err != nil {
		return 0, 0, err
	}
	if x >= int64(w) || y >= int64(h) {
		return 0, 0, protocol.Errorf(protocol.CodeInvalidArgs, "%s: (%d, %d) is outside the screen %d×%d", name, x, y, w, h)
	}
	return int(x), int(y), nil
}
