package commands

import (
	"context"
	"encoding/json"

	"github.com/tether-desktop/tether/protocol"
)

// FileReceiver takes the files a browser sends with the streamed
// receive_files command; the agent's inbox (package agent/inbox, wired
// in package agent) implements it. Safe for concurrent use.
type FileReceiver interface {
	// Begin accepts a file of size bytes named name, sent by from (a
	// browser's name), or refuses it with a *protocol.Error (too_large,
	// disk_full, unavailable). It does not block on the network.
	Begin(ctx context.Context, from, name string, size int64) (FileSink, error)
}

// FileSink is one file being received. Used by one goroutine.
type FileSink interface {
	// Write appends the next bytes.
	Write(p []byte) error
	// Commit checks the SHA-256 (hex) the sender computed and saves the
	// file; it returns the result's data (a protocol.FileResult).
	Commit(ctx context.Context, sha256 string) (json.RawMessage, error)
	// Abort drops the file and everything written of it. Safe to call
	// more than once and after Commit.
	Abort()
}

const noReceiver = "this agent has no folder to save received files in"

// ReceiveFiles returns the receive_files command: on by default, taking
// files of at most maxSize bytes into r. A nil r makes it exist (so the
// owner can switch it) but be unavailable. It runs only streamed, through
// Dispatcher.Receiver; as a command frame it is refused.
func ReceiveFiles(r FileReceiver, maxSize int64) Command {
	return Command{
		Spec:      protocol.ReceiveFilesSpec(maxSize),
		DefaultOn: true,
		Rate:      10,
		Burst:     20,
		Timeout:   DefaultTimeout, // of a command frame, which is refused at once
		Receiver:  r,
		Run: func(context.Context, map[string]any) (json.RawMessage, error) {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "receive_files is streamed: send file_begin, the chunks and file_end")
		},
		Unavailable: func() string {
			if r == nil {
				return noReceiver
			}
			return ""
		},
	}
}

// Receiver checks that the streamed command name may run with args (as
// Run checks a command: known, switched on, not paused, valid arguments,
// available, within its rate) and returns its FileReceiver. A size over
// the limit is too_large.
func (d *Dispatcher) Receiver(name string, args json.RawMessage) (FileReceiver, *protocol.Error) {
	e, ok := d.tab.Load().cmds[name]
	switch {
	case !ok:
		return nil, protocol.Errorf(protocol.CodeUnknownCommand, "unknown command %q", truncate(name, protocol.MaxNameLen))
	case name != protocol.CommandReceiveFiles:
		return nil, protocol.Errorf(protocol.CodeBadRequest, "command %q takes no files", name)
	case !d.allowed(name):
		return nil, protocol.Errorf(protocol.CodeNotAllowed, "receiving files is switched off on this computer")
	case d.paused():
		return nil, protocol.Errorf(protocol.CodePaused, "remote control is paused on this computer")
	case e.cmd.Receiver == nil:
		return nil, protocol.Errorf(protocol.CodeUnavailable, "%s", noReceiver)
	}
	if _, err := e.cmd.Spec.Validate(args); err != nil {
		perr := protocol.AsError(err)
		var a struct{ Size float64 }
		if json.Unmarshal(args, &a) == nil && overMax(e.cmd.Spec, "size", a.Size) {
			return nil, protocol.Errorf(protocol.CodeTooLarge, "the file is larger than this computer accepts")
		}
		return nil, perr
	}
	if why := e.unavailable(); why != "" {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "%s", why)
	}
	if !e.take(d.now()) {
		return nil, protocol.Errorf(protocol.CodeRateLimited, "files are sent too often (at most %g per second)", e.cmd.Rate)
	}
	return e.cmd.Receiver, nil
}

// overMax reports whether v is above the max of spec's argument arg.
func overMax(spec protocol.CommandSpec, arg string, v float64) bool {
	for _, a := range spec.Args {
		if a.Name == arg && a.Max != nil {
			return v > *a.Max
		}
	}
	return false
}
