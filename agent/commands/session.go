package commands

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// Session is what the session commands need from the machine (lock_screen,
// sleep, volume, media, clipboard_get, clipboard_set); package desktop
// implements it. Every method is safe for concurrent use, and returns a
// *protocol.Error with code unavailable and the reason when the machine
// cannot do it (no screen locker, no logind, no sound server, no media
// player, no display).
type Session interface {
	// LockScreen locks the session now and says how ("loginctl lock-session").
	LockScreen(ctx context.Context) (method string, err error)
	// Suspend puts the computer to sleep and says how; it returns once the
	// request was accepted, before the machine sleeps.
	Suspend(ctx context.Context) (method string, err error)
	// Volume applies change (nil fields are left alone) to the default
	// output and returns the state afterwards.
	Volume(ctx context.Context, change VolumeChange) (VolumeState, error)
	// Media sends action (one of MediaActions) to the media player and
	// says which player took it.
	Media(ctx context.Context, action string) (player string, err error)
	// ClipboardText returns the clipboard's text, at most MaxClipboardGet
	// bytes of it, and whether it was cut.
	ClipboardText(ctx context.Context) (text string, truncated bool, err error)
	// SetClipboardText puts text on the clipboard, where it stays until
	// something else takes the clipboard.
	SetClipboardText(ctx context.Context, text string) error
}

// VolumeChange is what a volume command asks: a level (0–100) and/or mute.
type VolumeChange struct {
	Level *int
	Mute  *bool
}

// VolumeState is the output's volume after a volume command: its data.
type VolumeState struct {
	Level  int    `json:"level"` // percent of the nominal volume (may exceed 100 when boosted elsewhere)
	Muted  bool   `json:"muted"`
	Method string `json:"method"` // how it was set: "pactl", "osascript", …
}

// Media actions of the media command.
const (
	MediaPlayPause = "play_pause"
	MediaPlay      = "play"
	MediaPause     = "pause"
	MediaNext      = "next"
	MediaPrevious  = "previous"
	MediaStop      = "stop"
)

// MediaActions are the actions the media command accepts.
var MediaActions = []string{MediaPlayPause, MediaPlay, MediaPause, MediaNext, MediaPrevious, MediaStop}

// Bounds of the clipboard commands.
const (
	MaxClipboardSet = 16 << 10 // runes of text clipboard_set takes (a browser frame is 64 KiB)
	MaxClipboardGet = 48 << 10 // bytes of text clipboard_get returns
)

// Done is the data of a command that did something once: what, and how.
type Done struct {
	Done   string `json:"done"`             // "locked", "suspending", "play_pause", "set"
	Method string `json:"method,omitempty"` // how: "loginctl lock-session", "logind", "pactl", "X11 CLIPBOARD"
	Player string `json:"player,omitempty"` // media: the player that took it
}

// ClipboardData is the data of clipboard_get.
type ClipboardData struct {
	Text      string `json:"text"`
	Truncated bool   `json:"truncated,omitempty"`
}

// sessionCommands returns the session commands on s; why(name) says why a
// command cannot run now ("" when it can). It is a table of six commands,
// long only because each is declared in full.
func sessionCommands(s Session, why func(string) func() string) []Command {
	return []Command{
		{
			Spec: protocol.CommandSpec{Name: protocol.CommandLockScreen, Title: "Lock screen",
				Description: "Locks the computer’s session now.", Args: []protocol.ArgSpec{}},
			DefaultOn: true, Rate: 0.2, Burst: 2, Timeout: 10 * time.Second,
			Unavailable: why(protocol.CommandLockScreen),
			Run: func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				how, err := s.LockScreen(ctx)
				return doneData(Done{Done: "locked", Method: how}, err)
			},
		},
		{
			Spec: protocol.CommandSpec{Name: protocol.CommandSleep, Title: "Sleep",
				Description: "Puts the computer to sleep (suspend to RAM).", Args: []protocol.ArgSpec{}},
			Rate: 0.05, Burst: 1, Timeout: 10 * time.Second,
			Unavailable: why(protocol.CommandSleep),
			Run: func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				how, err := s.Suspend(ctx)
				return doneData(Done{Done: "suspending", Method: how}, err)
			},
		},
		volumeCommand(s, why(protocol.CommandVolume)),
		{
			Spec: protocol.CommandSpec{Name: protocol.CommandMedia, Title: "Media",
				Description: "Play/pause, next or previous in the media player.",
				Args:        []protocol.ArgSpec{{Name: "action", Type: protocol.ArgString, Required: true, Enum: MediaActions}}},
			DefaultOn: true, Rate: 5, Burst: 10, Timeout: 5 * time.Second,
			Unavailable: why(protocol.CommandMedia),
			Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
				action, _ := args["action"].(string)
				player, err := s.Media(ctx, action)
				return doneData(Done{Done: action, Player: player}, err)
			},
		},
		{
			Spec: protocol.CommandSpec{Name: protocol.CommandClipboardGet, Title: "Read clipboard",
				Description: "Returns the text on the computer’s clipboard.", Args: []protocol.ArgSpec{}},
			Rate: 1, Burst: 3, Timeout: 5 * time.Second,
			Unavailable: why(protocol.CommandClipboardGet),
			Run: func(ctx context.Context, _ map[string]any) (json.RawMessage, error) {
				text, cut, err := s.ClipboardText(ctx)
				if err != nil {
					return nil, err
				}
				return protocol.MustData(ClipboardData{Text: text, Truncated: cut}), nil
			},
		},
		{
			Spec: protocol.CommandSpec{Name: protocol.CommandClipboardSet, Title: "Write clipboard",
				Description: "Puts text on the computer’s clipboard.",
				Args:        []protocol.ArgSpec{{Name: "text", Type: protocol.ArgString, Required: true, MaxLen: MaxClipboardSet}}},
			Rate: 1, Burst: 3, Timeout: 5 * time.Second,
			Unavailable: why(protocol.CommandClipboardSet),
			Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
				text, err := textArg(args, "text", MaxClipboardSet)
				if err != nil {
					return nil, err
				}
				return doneData(Done{Done: "set", Method: "clipboard"}, s.SetClipboardText(ctx, text))
			},
		},
	}
}

// volumeCommand sets the level and/or mute; with neither it reads them.
func volumeCommand(s Session, why func() string) Command {
	return Command{
		Spec: protocol.CommandSpec{Name: protocol.CommandVolume, Title: "Volume",
			Description: "Sets the output volume (0–100) or mutes it; with no argument, reads it.",
			Args: []protocol.ArgSpec{
				{Name: "level", Type: protocol.ArgInteger, Min: protocol.Float(0), Max: protocol.Float(100)},
				{Name: "mute", Type: protocol.ArgBoolean},
			}},
		DefaultOn: true, Rate: 10, Burst: 20, Timeout: 5 * time.Second,
		Unavailable: why,
		Run: func(ctx context.Context, args map[string]any) (json.RawMessage, error) {
			var ch VolumeChange
			if v, ok := args["level"].(int64); ok {
				level := int(v)
				ch.Level = &level
			}
			if v, ok := args["mute"].(bool); ok {
				ch.Mute = &v
			}
			st, err := s.Volume(ctx, ch)
			if err != nil {
				return nil, err
			}
			return protocol.MustData(st), nil
		},
	}
}

func doneData(d Done, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	return protocol.MustData(d), nil
}

const noSession = "this build of the agent cannot reach the desktop session"

// missingSession stands in for a Desktop that is not a Session.
type missingSession struct{}

var errNoSession = protocol.Errorf(protocol.CodeUnavailable, noSession)

func (missingSession) LockScreen(context.Context) (string, error) { return "", errNoSession }
func (missingSession) Suspend(context.Context) (string, error)    { return "", errNoSession }
func (missingSession) Volume(context.Context, VolumeChange) (VolumeState, error) {
	return VolumeState{}, errNoSession
}
func (missingSession) Media(context.Context, string) (string, error) { return "", errNoSession }
func (missingSession) ClipboardText(context.Context) (string, bool, error) {
	return "", false, errNoSession
}
func (missingSession) SetClipboardText(context.Context, string) error { return errNoSession }
