package commands

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// nullReceiver accepts every file and keeps nothing.
type nullReceiver struct{}

func (nullReceiver) Begin(context.Context, string, string, int64) (FileSink, error) { return nil, nil }

// TestReceiver: the agent's own checks of a streamed file, in the order
// Run checks a command; and receive_files as a command frame is refused.
func TestReceiver(t *testing.T) {
	withFiles := func(r FileReceiver) func(Desktop) []Command {
		return func(d Desktop) []Command {
			return []Command{ReceiveFiles(r, 1000), beepCommand(d, func() string { return d.Unavailable()["beep"] })}
		}
	}
	args := func(name string, size int64) json.RawMessage {
		return protocol.FileBegin{Name: name, Size: size}.Args()
	}
	for _, tc := range []struct {
		name   string
		recv   FileReceiver
		off    bool
		paused bool
		cmd    string
		args   json.RawMessage
		want   string
	}{
		{name: "accepted", recv: nullReceiver{}, cmd: "receive_files", args: args("a.jpg", 1000), want: ""},
		{name: "switched off", recv: nullReceiver{}, off: true, cmd: "receive_files", args: args("a", 1), want: protocol.CodeNotAllowed},
		{name: "paused", recv: nullReceiver{}, paused: true, cmd: "receive_files", args: args("a", 1), want: protocol.CodePaused},
		{name: "too large", recv: nullReceiver{}, cmd: "receive_files", args: args("a", 1001), want: protocol.CodeTooLarge},
		{name: "no name", recv: nullReceiver{}, cmd: "receive_files", args: json.RawMessage(`{"size":1}`), want: protocol.CodeInvalidArgs},
		{name: "negative size", recv: nullReceiver{}, cmd: "receive_files", args: args("a", -1), want: protocol.CodeInvalidArgs},
		{name: "no folder", recv: nil, cmd: "receive_files", args: args("a", 1), want: protocol.CodeUnavailable},
		{name: "not streamed", recv: nullReceiver{}, cmd: "beep", args: json.RawMessage(`{}`), want: protocol.CodeBadRequest},
		{name: "unknown", recv: nullReceiver{}, cmd: "upload", args: args("a", 1), want: protocol.CodeUnknownCommand},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSetup(withFiles(tc.recv))
			s.off["receive_files"] = tc.off
			s.paused = tc.paused
			r, perr := s.d.Receiver(tc.cmd, tc.args)
			switch {
			case tc.want == "" && (perr != nil || r == nil):
				t.Fatalf("refused: %v", perr)
			case tc.want != "" && (perr == nil || perr.Code != tc.want):
				t.Fatalf("got %v, want %s", perr, tc.want)
			}
		})
	}
	s := newSetup(withFiles(nullReceiver{}))
	if _, perr := s.d.Run(context.Background(), "receive_files", args("a", 1)); perr == nil || perr.Code != protocol.CodeBadRequest {
		t.Fatalf("receive_files as a command: %v, want bad_request", perr)
	}
}
