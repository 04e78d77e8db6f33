package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// validFrameSeeds are JSON texts and near misses of every rule validFrame
// checks.
var validFrameSeeds = []string{
	`{"type":"telemetry","device":"d_x","ts":"2026-11-22T10:00:00.120Z","data":{"cpu_percent":12.5,"mem_percent":41.0}}`,
	`{}`, `[]`, ` { } `, "\t[\r\n]\n", `{"a":[1,2,{"b":null}],"c":true,"d":false}`, `"s"`, `0`, `-0`, `1.5e+10`, `-2E-3`,
	`01`, `1.`, `.5`, `1e`, `-`, `+1`, `0x10`, `1.5.5`, `NaN`, `tru`, `nulll`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`,
	`[1 2]`, `{"a":1}}`, `[`, `]`, `{"a":}`, `""`, `"\u00e9\n\t\"\\\/"`, `"\u12"`, `"\x"`, "\"a\x01\"", "\"\xff\"",
	"\"\xed\xa0\x80\"", "\"é€𝄞\"", `"\uD800"`, "\xef\xbb\xbf{}", ``, ` `, `{"a":"b"`, `[[[[]]]]`,
	strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	strings.Repeat(`{"a":`, MaxDepth) + `1` + strings.Repeat("}", MaxDepth),
	strings.Repeat(`{"a":`, MaxDepth+1) + `1` + strings.Repeat("}", MaxDepth+1),
	`["]"]`, `{"}":"{"}`, `[1,[2,[3]],{"x":[]}]`,
}

// TestValidFrameSeeds runs the seeds through FuzzValidFrame's check, so a
// plain go test covers them.
func TestValidFrameSeeds(t *testing.T) {
	for _, s := range validFrameSeeds {
		checkValidFrame(t, []byte(s))
	}
}

// FuzzValidFrame holds validFrame to the checks it replaces: valid UTF-8,
// nesting of at most MaxDepth (depth), and json.Valid.
func FuzzValidFrame(f *testing.F) {
	for _, s := range validFrameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkValidFrame)
}

func checkValidFrame(t *testing.T, b []byte) {
	want := utf8.Valid(b) && depth(b) <= MaxDepth && json.Valid(b)
	if got := validFrame(b); got != want {
		t.Fatalf("validFrame(%q) = %v; utf8.Valid %v, depth %d (most %d), json.Valid %v",
			b, got, utf8.Valid(b), depth(b), MaxDepth, json.Valid(b))
	}
}

// BenchmarkValidFrame compares validFrame with the three checks it
// replaced, on a telemetry frame as an agent sends it.
func BenchmarkValidFrame(b *testing.B) {
	frame := []byte(validFrameSeeds[0])
	b.Run("one-pass", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if !validFrame(frame) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("utf8+depth+json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if !utf8.Valid(frame) || depth(frame) > MaxDepth || !json.Valid(frame) {
				b.Fatal("refused")
			}
		}
	})
}
