// Package activity keeps the agent's local activity log: one JSON line for
// every command that reached the agent (carried out, refused or failed),
// with when, which browser sent it when the relay said so, the command, a
// summary of its arguments that never holds typed text (Summarize), and
// how it ended. The log lives in the agent's config directory, owner-only
// (internal/perm), and is rotated by size: the current file and one older
// file, each at most MaxBytes. Telemetry and pointer events are never
// logged: only what the agent runs is.
//
// One Log value is safe for concurrent use by many goroutines; each entry
// is written as one line with one write on a file opened for appending.
// One process writes a config directory's log (the agent; its config
// directory lock sees to that); others only read it (Read, Follow).
package activity

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tether-desktop/tether/internal/perm"
)

// FileName is the current log's name in the config directory; the older
// file is FileName + ".1".
const FileName = "activity.log"

// DefaultMaxBytes is the size past which the log is rotated.
const DefaultMaxBytes = 1 << 20

// Entry is one line of the log.
type Entry struct {
	Time    time.Time      `json:"time"`
	Browser string         `json:"browser,omitempty"` // the pairing's name, when the relay said it
	Pairing string         `json:"pairing,omitempty"` // the pairing's id, likewise
	Command string         `json:"command"`
	Args    map[string]any `json:"args,omitempty"` // Summarize's summary: no typed text
	OK      bool           `json:"ok"`
	Code    string         `json:"code,omitempty"` // the error code when not OK
}

// Path returns the current log's path in the config directory dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// Log appends entries to the log of one config directory. Create it with
// New. Safe for concurrent use; a nil *Log logs nothing.
type Log struct {
	path     string
	maxBytes int64
	log      *slog.Logger

	mu   sync.Mutex
	f    *os.File // open for appending; nil until the first entry
	size int64    // of f
}

// New returns the log of config directory dir, rotated past maxBytes (0
// means DefaultMaxBytes). Problems go to log (nil: discarded). It touches
// no file until the first Append.
func New(dir string, maxBytes int64, log *slog.Logger) *Log {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{path: Path(dir), maxBytes: maxBytes, log: log}
}

// Append writes e as one line, rotating the file first when the line would
// take it past the size bound. It blocks on the disk; it never fails the
// caller's work: errors are returned for tests and logged.
func (l *Log) Append(e Entry) error {
	if l == nil {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("activity: encode entry: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writeLocked(line); err != nil {
		l.log.Warn("activity log not written", "path", l.path, "err", err)
		return err
	}
	return nil
}

func (l *Log) writeLocked(line []byte) error {
	if l.f == nil {
		if err := l.openLocked(); err != nil {
			return err
		}
	}
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotateLocked(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("activity: write %s: %w", l.path, err)
	}
	return nil
}

// openLocked opens (creating, mode 0600) the current file for appending,
// after checking that the directory and file are the user's alone.
func (l *Log) openLocked() error {
	if err := perm.PrivateDir(filepath.Dir(l.path), l.log); err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	if err := perm.PrivateFile(l.path, l.log); err != nil {
		return fmt.Errorf("activity: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("activity: open %s: %w", l.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("activity: stat %s: %w", l.path, err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// rotateLocked makes the current file the older one (replacing the older)
// and starts a new current file.
func (l *Log) rotateLocked() error {
	l.f.Close()
	l.f = nil
	old := l.path + ".1"
	if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("activity: rotate: %w", err)
	}
	if err := os.Rename(l.path, old); err != nil {
		return fmt.Errorf("activity: rotate: %w", err)
	}
	return l.openLocked()
}

// Close closes the file. Later appends open it again.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
