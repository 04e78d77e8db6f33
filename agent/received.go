package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

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

// PathOpener opens a local file or folder with the desktop's default
// application; *desktop.Desktop implements it. The notice of a received
// file gets its Open and Show in folder buttons from it.
type PathOpener interface {
	OpenPath(ctx context.Context, path string) error
}

// The buttons of a received file's notice.
const (
	actionOpen         = "Open"
	actionShowInFolder = "Show in folder"
)

// openBound bounds opening a received file or its folder from a notice.
const openBound = 20 * time.Second

// inboxReceiver is the receive_files command's FileReceiver: it saves
// into an inbox.Inbox and tells the desktop's user when a file arrived,
// with Open and Show in folder buttons when the desktop has them. Safe for
// concurrent use.
type inboxReceiver struct {
	in       *inbox.Inbox
	folder   string   // how the result names the folder: "Downloads/Tether"
	notifier Notifier // nil: no notice
	opener   PathOpener
	log      *slog.Logger
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
	s.r.notice(ctx, name, s.from)
	return protocol.MustData(protocol.FileResult{SavedAs: name, Folder: s.r.folder, Size: s.f.Written(), SHA256: sum}), nil
}

// notice tells the desktop's user that name arrived from a browser: "photo.jpg
// from Chrome on Android", with Open and Show in folder when the desktop has
// buttons and can open paths. Best effort: a desktop without notifications
// still has the file. It blocks until the notice is shown (not clicked).
func (r *inboxReceiver) notice(ctx context.Context, name, from string) {
	if r.notifier == nil {
		return
	}
	if from == "" {
		from = "a paired browser"
	}
	title, body := fmt.Sprintf("%s from %s", name, from), fmt.Sprintf("Saved in %s", r.folder)
	an, ok := r.notifier.(ActionNotifier)
	if !ok || r.opener == nil {
		if err := r.notifier.Notify(ctx, title, body); err != nil {
			r.log.Debug("no notice of a received file", "err", err)
		}
		return
	}
	dir := r.in.Dir()
	err := an.NotifyActions(ctx, title, body, []string{actionOpen, actionShowInFolder}, func(action string) {
		path := dir
		if action == actionOpen {
			path = filepath.Join(dir, name)
		}
		octx, cancel := context.WithTimeout(context.Background(), openBound)
		defer cancel()
		if err := r.opener.OpenPath(octx, path); err != nil {
			r.log.Warn("cannot open a received file from its notice", "action", action, "err", err)
		}
	})
	if err != nil {
		r.log.Debug("no notice of a received file", "err", err)
	}
}

// inboxFor returns the receiver of files saved into dir (files of at most
// maxSize bytes) that tells the user through desktop (a Notifier, an
// ActionNotifier and a PathOpener when it has them; nil: no notices),
// after removing the .part files a previous run left (an error doing so is
// returned with the receiver, which works anyway). log may be nil.
func inboxFor(dir string, maxSize int64, desktop any, log *slog.Logger) (*inboxReceiver, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := inbox.New(dir, maxSize)
	folder := filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir))
	n, _ := desktop.(Notifier)
	o, _ := desktop.(PathOpener)
	return &inboxReceiver{in: in, folder: filepath.ToSlash(folder), notifier: n, opener: o, log: log}, in.Clean()
}

// ErrNoInbox is returned by ReceivedFolder when the agent has no folder
// for received files (no Downloads folder, or receive_files not built in).
var ErrNoInbox = errors.New("no folder for received files")

// ReceivedFolder returns the folder received files are saved into
// (Config.Inbox: Downloads/Tether by default), creating it (owner-only) if
// no file arrived yet, so that it can be opened. It returns ErrNoInbox
// when there is none. Safe concurrently; it does not block on the network.
func (a *Agent) ReceivedFolder() (string, error) {
	dir := a.cfg.Inbox
	if dir == "" {
		return "", ErrNoInbox
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the folder for received files: %w", err)
	}
	return dir, nil
}
