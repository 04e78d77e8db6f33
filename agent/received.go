package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/agent/inbox"
	"github.com/tether-desktop/tether/protocol"
)

// DownloadsLocator finds the user's Downloads folder; *desktop.Desktop
// implements it. Received files go to its Tether folder.
type DownloadsLocator interface {
	DownloadsDir() (string, error)
}

// InboxFolder is the folder, inside Downloads, that receives files.
const InboxFolder = "Tether"

// inboxReceiver is the receive_files command's FileReceiver: it saves
// into an inbox.Inbox and tells the desktop's user when a file arrived.
// Safe for concurrent use.
type inboxReceiver struct {
	in     *inbox.Inbox
	folder string // how the result names the folder: "Downloads/Tether"
	notify func(ctx context.Context, title, body string) error
}

// Begin implements commands.FileReceiver.
func (r *inboxReceiver) Begin(_ context.Context, from, name string, size int64) (commands.FileSink, error) {
	f, err := r.in.Begin(name, size)
	if err != nil {
		return nil, err
	}
	return &inboxSink{r: r, f: f, from: from}, nil
}

// inboxSink is one file on its way into the inbox.
type inboxSink struct {
	r    *inboxReceiver
	f    *inbox.File
	from string
}

func (s *inboxSink) Write(p []byte) error { return s.f.Write(p) }
func (s *inboxSink) Abort()               { s.f.Abort() }

// Commit saves the file, notifies the user and returns a protocol.FileResult.
func (s *inboxSink) Commit(ctx context.Context, sum string) (json.RawMessage, error) {
	name, err := s.f.Commit(sum)
	if err != nil {
		return nil, err
	}
	if s.r.notify != nil {
		from := s.from
		if from == "" {
			from = "a paired browser"
		}
		// Best effort: a desktop without notifications still has the file.
		s.r.notify(ctx, fmt.Sprintf("%s from %s", name, from), fmt.Sprintf("Saved in %s", s.r.folder))
	}
	return protocol.MustData(protocol.FileResult{SavedAs: name, Folder: s.r.folder, Size: s.f.Written(), SHA256: sum}), nil
}

// inboxFor returns the receiver of files saved into dir (files of at most
// maxSize bytes), after removing the .part files a previous run left (an
// error doing so is returned with the receiver, which works anyway).
func inboxFor(dir string, maxSize int64, notify func(ctx context.Context, title, body string) error) (*inboxReceiver, error) {
	in := inbox.New(dir, maxSize)
	folder := filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir))
	return &inboxReceiver{in: in, folder: filepath.ToSlash(folder), notify: notify}, in.Clean()
}
