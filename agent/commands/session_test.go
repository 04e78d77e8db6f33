package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// The fake desktop is a Session too: it records each call.

func (f *fakeDesktop) LockScreen(context.Context) (string, error) {
	return "fake locker", f.record("lock")
}

func (f *fakeDesktop) Suspend(context.Context) (string, error) {
	return "fake logind", f.record("suspend")
}

func (f *fakeDesktop) Volume(_ context.Context, ch VolumeChange) (VolumeState, error) {
	call := "volume"
	st := VolumeState{Level: 30, Method: "fake"}
	if ch.Level != nil {
		call += fmt.Sprintf(" level=%d", *ch.Level)
		st.Level = *ch.Level
	}
	if ch.Mute != nil {
		call += fmt.Sprintf(" mute=%v", *ch.Mute)
		st.Muted = *ch.Mute
	}
	return st, f.record(call)
}

func (f *fakeDesktop) Media(_ context.Context, action string) (string, error) {
	return "org.mpris.MediaPlayer2.fake", f.record("media " + action)
}

func (f *fakeDesktop) ClipboardText(context.Context) (string, bool, error) {
	return "copied", false, f.record("clipboard get")
}

func (f *fakeDesktop) SetClipboardText(_ context.Context, text string) error {
	return f.record("clipboard set " + text)
}

// TestSessionCommands checks the arguments and data of the session commands
// against the Session seam (the desktop package tests the backends).
func TestSessionCommands(t *testing.T) {
	for _, tc := range []struct {
		cmd, args, wantCode, wantData, wantCall string
	}{
		{"lock_screen", ``, "", `{"done":"locked","method":"fake locker"}`, "lock"},
		{"sleep", ``, "", `{"done":"suspending","method":"fake logind"}`, "suspend"},
		{"volume", `{"level":55}`, "", `{"level":55,"muted":false,"method":"fake"}`, "volume level=55"},
		{"volume", `{"mute":true}`, "", `{"level":30,"muted":true,"method":"fake"}`, "volume mute=true"},
		{"volume", ``, "", `{"level":30,"muted":false,"method":"fake"}`, "volume"},
		{"volume", `{"level":101}`, protocol.CodeInvalidArgs, "", ""},
		{"volume", `{"level":-1}`, protocol.CodeInvalidArgs, "", ""},
		{"volume", `{"level":5.5}`, protocol.CodeInvalidArgs, "", ""},
		{"media", `{"action":"next"}`, "", `{"done":"next","player":"org.mpris.MediaPlayer2.fake"}`, "media next"},
		{"media", `{"action":"reboot"}`, protocol.CodeInvalidArgs, "", ""},
		{"media", ``, protocol.CodeInvalidArgs, "", ""},
		{"clipboard_get", ``, "", `{"text":"copied"}`, "clipboard get"},
		{"clipboard_set", `{"text":"héllo\nworld"}`, "", `{"done":"set","method":"clipboard"}`, "clipboard set héllo\nworld"},
		{"clipboard_set", `{"text":"` + strings.Repeat("x", MaxClipboardSet+1) + `"}`, protocol.CodeInvalidArgs, "", ""},
		{"clipboard_set", `{"text":"a\u0000b"}`, protocol.CodeInvalidArgs, "", ""},
	} {
		t.Run(tc.cmd+tc.args, func(t *testing.T) {
			s := newSetup(Builtin)
			data, perr := s.d.Run(context.Background(), tc.cmd, json.RawMessage(tc.args))
			if tc.wantCode != "" {
				if perr == nil || perr.Code != tc.wantCode {
					t.Fatalf("got %s %v, want %s", data, perr, tc.wantCode)
				}
				if calls := s.desk.Calls(); len(calls) != 0 {
					t.Fatalf("refused command reached the desktop: %v", calls)
				}
				return
			}
			if perr != nil || string(data) != tc.wantData {
				t.Fatalf("got %s %v, want %s", data, perr, tc.wantData)
			}
			if calls := s.desk.Calls(); len(calls) != 1 || calls[0] != tc.wantCall {
				t.Fatalf("calls %q, want %q", calls, tc.wantCall)
			}
		})
	}
}

// TestSessionUnavailable: a desktop error with code unavailable is the
// command's result, reason and all.
func TestSessionUnavailable(t *testing.T) {
	s := newSetup(Builtin)
	s.desk.err = protocol.Errorf(protocol.CodeUnavailable, "no screen locker answered: loginctl: no session")
	_, perr := s.d.Run(context.Background(), "lock_screen", nil)
	if perr == nil || perr.Code != protocol.CodeUnavailable || !strings.Contains(perr.Message, "loginctl: no session") {
		t.Fatalf("got %v", perr)
	}
}
