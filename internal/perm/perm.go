// Package perm keeps the directories and files that hold secrets (the
// agent's config directory and credentials, the relay's data directory and
// code.key) private to the user who runs the program.
//
// A directory or file that is readable by others is tightened (0700 for a
// directory, 0600 for a file) with a log line; one that belongs to another
// user is refused with an error that says so, since chmod would either fail
// or take it from its owner. On Windows, where these mode bits mean little,
// only the existence checks apply. The functions are safe for concurrent use
// on different paths.
package perm

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// ErrNotOwner is wrapped by the errors of PrivateDir and PrivateFile when the
// path belongs to another user.
var ErrNotOwner = errors.New("belongs to another user")

// PrivateDir creates dir (and missing parents) with mode 0700, or checks an
// existing one: it must be a directory owned by the current user; group and
// other permissions are removed, logged on log (nil means slog.Default()).
func PrivateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return tighten(dir, fi, 0o700, log)
}

// PrivateFile checks an existing file at path: it must be owned by the
// current user; group and other permissions are removed, logged on log (nil
// means slog.Default()). A missing file is not an error.
func PrivateFile(path string, log *slog.Logger) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	return tighten(path, fi, 0o600, log)
}

// tighten refuses path when another user owns it and otherwise removes the
// group and other bits of its mode, down to private.
func tighten(path string, fi fs.FileInfo, private fs.FileMode, log *slog.Logger) error {
	if !modeBitsMatter {
		return nil
	}
	if uid, me, ok := owner(fi); ok && uid != me {
		return fmt.Errorf("%s %w (uid %d, this program runs as uid %d): it may hold secrets, so it is not used; "+
			"give it to this user (chown) or choose another directory", path, ErrNotOwner, uid, me)
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, private); err != nil {
		return fmt.Errorf("restrict %s to mode %04o (it is %04o): %w", path, private, mode, err)
	}
	if log == nil {
		log = slog.Default()
	}
	log.Warn("tightened permissions: others could read it", "path", path,
		"from", fmt.Sprintf("%04o", mode), "to", fmt.Sprintf("%04o", private))
	return nil
}
