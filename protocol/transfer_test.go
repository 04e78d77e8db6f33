package protocol

import (
	"bytes"
	"strings"
	"testing"
)

func TestChunkFrames(t *testing.T) {
	data := bytes.Repeat([]byte{7}, MaxChunk)
	frame := AppendChunk(nil, "f1-x", 513, data)
	if len(frame) > MaxClientFrame || frame[0] != 'F' {
		t.Fatalf("frame of %d bytes starting %q", len(frame), frame[0])
	}
	ch, err := ParseChunk(frame)
	if err != nil || ch.ID != "f1-x" || ch.Seq != 513 || !bytes.Equal(ch.Data, data) {
		t.Fatalf("parsed %q %d %d bytes, %v", ch.ID, ch.Seq, len(ch.Data), err)
	}
	if big := AppendChunk(nil, strings.Repeat("i", MaxIDLen), 0, data); len(big) > MaxClientFrame {
		t.Fatalf("the largest chunk frame has %d bytes, over the client's limit", len(big))
	}
	for name, f := range map[string][]byte{
		"empty":         nil,
		"json":          []byte(`{"type":"file_end"}`),
		"no id":         AppendChunk(nil, "", 0, []byte{1}),
		"no data":       AppendChunk(nil, "a", 0, nil),
		"short":         {'F', 3, 'a'},
		"id too long":   AppendChunk(nil, strings.Repeat("i", MaxIDLen+1), 0, []byte{1}),
		"control in id": AppendChunk(nil, "a\x00b", 0, []byte{1}),
		"too much data": AppendChunk(nil, "a", 0, make([]byte, MaxChunk+1)),
	} {
		if _, err := ParseChunk(f); err == nil || AsError(err).Code != CodeBadRequest {
			t.Errorf("%s: %v, want bad_request", name, err)
		}
	}
	if Chunks(0) != 0 || Chunks(1) != 1 || Chunks(MaxChunk) != 1 || Chunks(MaxChunk+1) != 2 {
		t.Error("Chunks is wrong")
	}
}

func TestCheckFileEnd(t *testing.T) {
	good := strings.Repeat("Ab", 32)
	if s, err := CheckFileEnd(FileEnd{SHA256: good}); err != nil || s != strings.ToLower(good) {
		t.Fatalf("%q %v", s, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 64), strings.Repeat("a", 65)} {
		if _, err := CheckFileEnd(FileEnd{SHA256: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
