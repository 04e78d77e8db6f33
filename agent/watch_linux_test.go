package agent

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tether-desktop/tether/agent/commands"
)

// rawEvent is one inotify record to lay out as the kernel does.
type rawEvent struct {
	mask uint32
	name string
}

// encodeEvents lays out events as read(2) on an inotify descriptor returns
// them: the fixed header, then the name padded with NULs.
func encodeEvents(evs []rawEvent) []byte {
	var b []byte
	for i, e := range evs {
		name := []byte(e.name)
		if len(name) > 0 {
			name = append(name, make([]byte, 16-len(name)%16)...)
		}
		h := make([]byte, unix.SizeofInotifyEvent)
		binary.NativeEndian.PutUint32(h[0:], 1)
		binary.NativeEndian.PutUint32(h[4:], e.mask)
		binary.NativeEndian.PutUint32(h[8:], uint32(i))
		binary.NativeEndian.PutUint32(h[12:], uint32(len(name)))
		b = append(append(b, h...), name...)
	}
	return b
}

// TestParseEvents reads raw inotify records as the kernel lays them out.
func TestParseEvents(t *testing.T) {
	tests := []struct {
		name      string
		events    []rawEvent
		hit, ends bool
	}{
		{"other file", []rawEvent{{unix.IN_CLOSE_WRITE, "status.json"}}, false, false},
		{"config replaced", []rawEvent{{unix.IN_CREATE, "config.json.tmp"}, {unix.IN_MOVED_TO, SettingsFile}}, true, false},
		{"custom written", []rawEvent{{unix.IN_CLOSE_WRITE, commands.CustomFile}}, true, false},
		{"prefix is not the name", []rawEvent{{unix.IN_CLOSE_WRITE, SettingsFile + "x"}}, false, false},
		{"directory removed", []rawEvent{{unix.IN_DELETE_SELF, ""}, {unix.IN_IGNORED, ""}}, true, true},
		{"overflow", []rawEvent{{unix.IN_Q_OVERFLOW, ""}}, true, false},
		{"truncated record", []rawEvent{{unix.IN_CLOSE_WRITE, SettingsFile}}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeEvents(tc.events)
			if tc.name == "truncated record" {
				b = b[:len(b)-1]
			}
			hit, end := parseEvents(b, []string{SettingsFile, commands.CustomFile})
			if hit != tc.hit || end != tc.ends {
				t.Fatalf("parseEvents = hit %v end %v, want %v %v", hit, end, tc.hit, tc.ends)
			}
		})
	}
}

// TestClockWatchArmsAndCloses: the timer is accepted by this kernel (a
// wake or a clock change cannot be caused by a test), nothing is reported
// while the clock runs on, and close ends the reader.
func TestClockWatchArmsAndCloses(t *testing.T) {
	w, err := watchClock()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.jumped():
		t.Error("a jump reported while the clock ran on")
	default:
	}
	w.close()
}
