// Package inbox saves the files a paired browser sends to the desktop
// (the receive_files command) into one folder, safely: names made safe
// for every OS (SafeName), never overwriting (photo (2).jpg), written to
// a hidden .part file that becomes the file only once the SHA-256 the
// sender computed matches, with a free-disk check before a file is
// accepted and the mark of the web on Windows. Aborted transfers leave
// nothing behind; .part files of a previous run are removed by Clean.
//
// An *Inbox is safe for concurrent use; each *File belongs to one
// goroutine.
package inbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tether-desktop/tether/protocol"
)

// Names of the .part files: hidden, so no saved file (never hidden) can
// be mistaken for one.
const (
	partPrefix = ".tether-"
	partSuffix = ".part"
)

// Headroom is the free space a file must leave on the disk to be accepted.
const Headroom = 64 << 20

// maxNumbered bounds the "photo (N).jpg" names tried before giving up.
const maxNumbered = 10000

// Inbox is a folder that receives files.
type Inbox struct {
	dir     string
	maxSize int64
	// free returns the bytes free for an unprivileged user on the disk of
	// dir; tests replace it.
	free func(dir string) (uint64, error)
}

// New returns an Inbox saving into dir (created 0700 on the first file)
// files of at most maxSize bytes.
func New(dir string, maxSize int64) *Inbox {
	return &Inbox{dir: dir, maxSize: maxSize, free: freeSpace}
}

// Dir is the folder files are saved in.
func (in *Inbox) Dir() string { return in.dir }

// MaxSize is the largest file accepted, in bytes.
func (in *Inbox) MaxSize() int64 { return in.maxSize }

// Clean removes the .part files left in the folder by a run that ended
// mid-transfer (killed, power lost). Call it at start, before the first
// Begin. A missing folder is not an error.
func (in *Inbox) Clean() error {
	ents, err := os.ReadDir(in.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inbox: read %s: %w", in.dir, err)
	}
	var first error
	for _, e := range ents {
		if isPart(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(in.dir, e.Name())); err != nil && first == nil {
				first = fmt.Errorf("inbox: remove a stale part file: %w", err)
			}
		}
	}
	return first
}

func isPart(name string) bool {
	return strings.HasPrefix(name, partPrefix) && strings.HasSuffix(name, partSuffix)
}

// File is one file being received: bytes go to its .part file until
// Commit or Abort. Not safe for concurrent use.
type File struct {
	in   *Inbox
	name string // the safe name it will be saved under (or a numbered one)
	size int64
	part string
	f    *os.File
	h    hash.Hash
	n    int64
}

// Begin accepts a file of size bytes sent as name, or refuses it with an
// *protocol.Error: too_large over the limit, disk_full when the disk
// would keep less than Headroom free, unavailable when the folder cannot
// be written.
func (in *Inbox) Begin(name string, size int64) (*File, error) {
	switch {
	case size < 0:
		return nil, protocol.Errorf(protocol.CodeInvalidArgs, "a file cannot have %d bytes", size)
	case size > in.maxSize:
		return nil, protocol.Errorf(protocol.CodeTooLarge, "the file has %s; this computer accepts files up to %s", mib(size), mib(in.maxSize))
	}
	if err := os.MkdirAll(in.dir, 0o700); err != nil {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "cannot create the folder for received files: %v", err)
	}
	if free, err := in.free(in.dir); err == nil && free < uint64(size)+Headroom {
		return nil, protocol.Errorf(protocol.CodeDiskFull, "the computer's disk has %s free: not enough for %s", mib(int64(free)), mib(size))
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	part := filepath.Join(in.dir, partPrefix+hex.EncodeToString(rnd[:])+partSuffix)
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeUnavailable, "cannot write in the folder for received files: %v", err)
	}
	return &File{in: in, name: SafeName(name), size: size, part: part, f: f, h: sha256.New()}, nil
}

// Name is the safe name the file will be saved under (a numbered one if
// taken).
func (f *File) Name() string { return f.name }

// Written is the number of bytes written so far.
func (f *File) Written() int64 { return f.n }

// Write appends p. Writing past the size announced in Begin fails with
// bad_request; a full disk with disk_full.
func (f *File) Write(p []byte) error {
	if f.n+int64(len(p)) > f.size {
		return protocol.Errorf(protocol.CodeBadRequest, "more bytes than the %d announced", f.size)
	}
	if _, err := f.f.Write(p); err != nil {
		if isNoSpace(err) {
			return protocol.Errorf(protocol.CodeDiskFull, "the computer's disk is full")
		}
		return protocol.Errorf(protocol.CodeUnavailable, "cannot write the file: %v", err)
	}
	f.h.Write(p)
	f.n += int64(len(p))
	return nil
}

// Commit checks that every byte arrived and that their SHA-256 is sum
// (hex), flushes the file to disk and gives it its name, the first of
// name, "name (2)", … that is free: an existing file is never replaced.
// It returns the name given. On any failure the .part file is removed.
func (f *File) Commit(sum string) (string, error) {
	defer f.Abort() // no-op after the rename
	if f.f == nil {
		return "", protocol.Errorf(protocol.CodeCancelled, "the file was aborted")
	}
	if f.n != f.size {
		return "", protocol.Errorf(protocol.CodeBadRequest, "the file ended after %d of %d bytes", f.n, f.size)
	}
	if got := hex.EncodeToString(f.h.Sum(nil)); !strings.EqualFold(got, sum) {
		return "", protocol.Errorf(protocol.CodeHashMismatch, "the file arrived damaged: its SHA-256 is %s, the sender computed %s", got[:12]+"…", cut(sum, 12)+"…")
	}
	if err := f.f.Sync(); err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "cannot flush the file to disk: %v", err)
	}
	if err := f.f.Close(); err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "cannot close the file: %v", err)
	}
	f.f = nil
	markFromInternet(f.part)
	for n := 1; n <= maxNumbered; n++ {
		name := numbered(f.name, n)
		err := place(f.part, filepath.Join(f.in.dir, name))
		if err == nil {
			f.part = ""
			syncDir(f.in.dir)
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", protocol.Errorf(protocol.CodeUnavailable, "cannot save the file: %v", err)
		}
	}
	return "", protocol.Errorf(protocol.CodeUnavailable, "%d files named like %q exist already", maxNumbered, f.name)
}

// Abort stops the file and removes its .part file. Safe to call more than
// once, and after Commit.
func (f *File) Abort() {
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
	if f.part != "" {
		os.Remove(f.part)
		f.part = ""
	}
}

// place gives the finished part file the name final, failing with an
// error matching fs.ErrExist when final exists: a hard link then the
// removal of the part, so an existing file is never replaced (a rename
// would replace it). Where links are not supported it checks and renames.
func place(part, final string) error {
	err := os.Link(part, final)
	if err == nil {
		os.Remove(part)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(final); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(part, final)
}

// syncDir flushes the folder's entries, so the new name survives a crash.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// mib writes n bytes for people.
func mib(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
