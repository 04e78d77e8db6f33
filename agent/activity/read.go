package activity

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Read returns the entries of the log of config directory dir, oldest
// first: the older file's, then the current one's. Lines that do not parse
// (a line cut by a crash) are skipped. A missing log is no entries.
func Read(dir string) ([]Entry, error) {
	var out []Entry
	for _, p := range []string{Path(dir) + ".1", Path(dir)} {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("activity: read %s: %w", p, err)
		}
		out = append(out, parse(b)...)
	}
	return out, nil
}

// parse decodes the complete lines of b.
func parse(b []byte) []Entry {
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Command != "" {
			out = append(out, e)
		}
	}
	return out
}

// Follow calls fn with every entry appended to the log of config directory
// dir after the call (or, with fromStart, every entry already there too),
// in order, until ctx ends; it follows the log across rotations, reading
// the end of the rotated file before the new one. It checks for new lines
// every poll (0 means 250 ms) and holds no file open between checks, so
// that the writer can always rotate (Windows refuses to rename an open
// file). It blocks; it returns nil when ctx ends, or fn's error.
func Follow(ctx context.Context, dir string, fromStart bool, poll time.Duration, fn func(Entry) error) error {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	f := &follower{path: Path(dir)}
	f.mark()
	if fromStart {
		// The older file, then the current one from its start: no entry
		// written meanwhile falls between what was read and what follows.
		old, _ := os.ReadFile(f.path + ".1")
		for _, e := range parse(old) {
			if err := fn(e); err != nil {
				return err
			}
		}
		f.offset = 0
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		lines, err := f.next()
		if err != nil {
			return err
		}
		for _, e := range parse(lines) {
			if err := fn(e); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// follower remembers where in which file the last complete line ended.
type follower struct {
	path   string
	id     os.FileInfo // the current file as last seen; nil when missing
	offset int64       // end of the last complete line read from it
}

// mark starts following at the current end of the log.
func (f *follower) mark() {
	if fi, err := os.Stat(f.path); err == nil {
		f.id, f.offset = pin(fi), fi.Size()
	}
}

// pin makes fi remember which file it describes now: on Windows a
// FileInfo from os.Stat reads its file id lazily, by path, which after a
// rotation is another file.
func pin(fi os.FileInfo) os.FileInfo {
	os.SameFile(fi, fi)
	return fi
}

// next returns the complete lines appended since the last call, across a
// rotation.
func (f *follower) next() ([]byte, error) {
	fi, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // rotating right now, or nothing logged yet
	}
	if err != nil {
		return nil, fmt.Errorf("activity: %w", err)
	}
	pin(fi)
	var out []byte
	if f.id != nil && (!os.SameFile(f.id, fi) || fi.Size() < f.offset) {
		// Rotated: the rest of the file we were reading is now FileName.1.
		if old, err := os.Stat(f.path + ".1"); err == nil && os.SameFile(pin(old), f.id) {
			rest, _, err := readFrom(f.path+".1", f.offset)
			if err != nil {
				return nil, err
			}
			out = append(out, rest...)
		}
		f.offset = 0
	}
	f.id = fi
	more, n, err := readFrom(f.path, f.offset)
	if err != nil {
		return nil, err
	}
	f.offset += n
	return append(out, more...), nil
}

// readFrom returns the complete lines of the file at path from offset on,
// and how many bytes they take.
func readFrom(path string, offset int64) ([]byte, int64, error) {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("activity: %w", err)
	}
	defer file.Close()
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		return nil, 0, fmt.Errorf("activity: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(file, 8<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("activity: %w", err)
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return nil, 0, nil
	}
	return b[:end+1], int64(end + 1), nil
}
