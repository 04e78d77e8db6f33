package inbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// entries lists the folder's names, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

func code(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return "<" + err.Error() + ">"
}

func receive(t *testing.T, in *Inbox, name string, data []byte, hash string) (string, error) {
	t.Helper()
	f, err := in.Begin(name, int64(len(data)))
	if err != nil {
		return "", err
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 1000)
		if err := f.Write(p[:n]); err != nil {
			f.Abort()
			return "", err
		}
		p = p[n:]
	}
	return f.Commit(hash)
}

func TestReceiveNeverOverwrites(t *testing.T) {
	dir := filepath.Join(tempDir(t), "Tether")
	in := New(dir, 1<<20)
	first := bytes.Repeat([]byte("a"), 5000)
	second := []byte("second")
	for i, want := range []string{"photo.jpg", "photo (2).jpg", "photo (3).jpg"} {
		data := append(slices.Clone(second), byte(i))
		if i == 0 {
			data = first
		}
		got, err := receive(t, in, "../photo.jpg", data, sum(data))
		if err != nil || got != want {
			t.Fatalf("file %d saved as %q, %v; want %q", i, got, err, want)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, got)); !bytes.Equal(b, data) {
			t.Fatalf("%s holds %d bytes, not what was sent", got, len(b))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "photo.jpg")); !bytes.Equal(b, first) {
		t.Fatal("the first photo.jpg was overwritten")
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"photo (2).jpg", "photo (3).jpg", "photo.jpg"}) {
		t.Fatalf("folder holds %q", got)
	}
	if st, _ := os.Stat(dir); runtime.GOOS != "windows" && st.Mode().Perm() != 0o700 {
		t.Fatalf("folder mode %v, want 0700", st.Mode().Perm())
	}
}

func TestReceiveRefusals(t *testing.T) {
	dir := tempDir(t)
	in := New(dir, 100)
	data := []byte("hello")
	if _, err := receive(t, in, "a.txt", data, sum([]byte("other"))); code(err) != protocol.CodeHashMismatch {
		t.Fatalf("bad hash: %v, want hash_mismatch", err)
	}
	if _, err := in.Begin("big.bin", 101); code(err) != protocol.CodeTooLarge {
		t.Fatalf("too large: %v", err)
	}
	f, err := in.Begin("short.txt", 10)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("12345"))
	if _, err := f.Commit(sum([]byte("12345"))); code(err) != protocol.CodeBadRequest {
		t.Fatalf("short file: %v, want bad_request", err)
	}
	f, _ = in.Begin("long.txt", 3)
	if err := f.Write([]byte("1234")); code(err) != protocol.CodeBadRequest {
		t.Fatalf("write past size: %v", err)
	}
	f.Abort()
	in.free = func(string) (uint64, error) { return Headroom + 50, nil }
	if _, err := in.Begin("c.txt", 51); code(err) != protocol.CodeDiskFull {
		t.Fatalf("no space: %v, want disk_full", err)
	}
	open, err := in.Begin("c.txt", 50)
	if err != nil {
		t.Fatalf("just enough space: %v", err)
	}
	// Every refusal above leaves nothing; the Begin just accepted its part file.
	if got := entries(t, dir); len(got) != 1 || !isPart(got[0]) {
		t.Fatalf("folder holds %q, want only the open part file", got)
	}
	open.Abort()
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("after Abort the folder holds %q", got)
	}
}

// tempDir is a directory removed when the test ends, as best it can be:
// Wine, where these tests also run (TestUnderWine), fails to remove some
// files, which is no failure of the inbox.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "inbox-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestAbortAndCleanLeaveNoPart(t *testing.T) {
	dir := tempDir(t)
	in := New(dir, 1<<20)
	f, err := in.Begin("x.bin", 10)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("12345"))
	if got := entries(t, dir); len(got) != 1 || !isPart(got[0]) {
		t.Fatalf("while writing the folder holds %q, want one part file", got)
	}
	f.Abort()
	f.Abort()
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("after Abort the folder holds %q", got)
	}
	// A run killed mid-transfer leaves a part file; Clean removes it and
	// nothing else.
	os.WriteFile(filepath.Join(dir, ".tether-0123456789abcdef.part"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "kept.part"), []byte("x"), 0o600)
	if err := in.Clean(); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"kept.part"}) {
		t.Fatalf("after Clean the folder holds %q", got)
	}
	if err := New(filepath.Join(dir, "missing"), 1).Clean(); err != nil {
		t.Fatalf("Clean of a missing folder: %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	dir := tempDir(t)
	got, err := receive(t, New(dir, 10), "empty.txt", nil, sum(nil))
	if err != nil || got != "empty.txt" {
		t.Fatalf("empty file: %q, %v", got, err)
	}
}
