package inbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestMarkOfTheWeb: a file received on Windows carries ZoneId=3 in its
// Zone.Identifier stream, as a browser's download does, and nothing else
// is left in the folder.
func TestMarkOfTheWeb(t *testing.T) {
	dir := tempDir(t)
	data := []byte("MZ pretend program")
	name, err := receive(t, New(dir, 1<<20), "setup.exe", data, sum(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"setup.exe"}) {
		t.Fatalf("folder holds %q", got)
	}
	if !namedStreams(dir) {
		t.Skipf("the volume of %s has no named streams (Wine's drives, FAT): the file is saved unmarked, and nothing else is left", dir)
	}
	zone, err := os.ReadFile(filepath.Join(dir, name) + ":Zone.Identifier")
	if err != nil || string(zone) != zoneIdentifier {
		t.Fatalf("Zone.Identifier of %s: %q, %v", name, zone, err)
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"setup.exe"}) {
		t.Fatalf("folder holds %q", got)
	}
}
