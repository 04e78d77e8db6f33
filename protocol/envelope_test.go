package protocol_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tether-desktop/tether/protocol"
)

// envelopeSeeds are frames of the agent's shape and near misses of it.
var envelopeSeeds = []string{
	`{"type":"telemetry","device":"d_x","ts":"2026-11-22T10:00:00.120Z","data":{"cpu_percent":12.5,"mem_percent":41.0}}`,
	`{"type":"event","device":"d_x","ts":"2026-11-22T10:00:00.120Z","data":{"kind":"mouse_click","x":200,"y":300,"button":"left"}}`,
	`{"data":{"s":"}\"{,"},"ts":"t","device":"d","type":"event"}`,
	`{"type":"telemetry","device":"d_x","ts":"t","data": null }`,
	`{"type":"telemetry","device":"d_x","ts":"t","data":null}`,
	`{"type":"telemetry","device":"d_x","data":{}}`,
	`{"type":"telemetry","device":"d_x","ts":"","data":{}}`,
	`{"type":"telemetry","device":"d_x","ts":"t","data":{},"id":"x"}`,
	`{"type":"telemetry","type":"event","device":"d_x","ts":"t","data":{}}`,
	`{"Type":"telemetry","device":"d_x","ts":"t","data":{}}`,
	`{"type":"telemetry","device":"d\u0000x","ts":"t","data":{}}`,
	`{"type":"bogus","device":"d_x","ts":"t","data":{}}`,
	`{"type":"telemetry","device":"d_x","ts":"t","data":{}} `,
	`{"type":"telemetry", "device":"d_x","ts":"t","data":{}}`,
	`{"type":"telemetry","device":"d_x","ts":"t","data":{}}}`,
	`{"type":"telemetry","device":"d_x","ts":"t","data":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	`{"type":"telemetry","device":"d_x","ts":"t","data":"\ud800"}`,
	`{"type":"telemetry","device":"d_x","ts":"t","data":1}`,
	`{}`,
	`{"type":"event","data":{"kind":"x"}}`,
	`{"type":"event","ts":"t","device":"d_y","data":{"kind":"x"}}`,
}

// TestReadEnvelope checks which frames take the forwarding path: the agent's
// own shape does, and every variation Decode would read differently (or
// refuse) does not.
func TestReadEnvelope(t *testing.T) {
	want := map[int]protocol.Envelope{
		0:  {Type: "telemetry", Device: "d_x", TS: "2026-11-22T10:00:00.120Z"},
		1:  {Type: "event", Device: "d_x", TS: "2026-11-22T10:00:00.120Z"},
		2:  {Type: "event", Device: "d", TS: "t"},
		5:  {Type: "telemetry", Device: "d_x"},
		19: {Type: "event"},
		20: {Type: "event", Device: "d_y", TS: "t"},
		16: {Type: "telemetry", Device: "d_x", TS: "t"},
		17: {Type: "telemetry", Device: "d_x", TS: "t"},
	}
	for i, s := range envelopeSeeds {
		env, ok := protocol.ReadEnvelope([]byte(s))
		w, wantOK := want[i]
		if ok != wantOK || env != w && ok {
			t.Errorf("ReadEnvelope(%s) = %+v, %v; want %+v, %v", s, env, ok, w, wantOK)
		}
	}
}

// FuzzReadEnvelope checks that every frame ReadEnvelope accepts is one that
// Decode accepts with the same type, device and ts and a data, and that the
// frame as it is means the same JSON as the message encoded again: so
// forwarding its bytes equals decoding and re-encoding it.
func FuzzReadEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		env, ok := protocol.ReadEnvelope(frame)
		if !ok {
			return
		}
		m, err := protocol.Decode(frame)
		if err != nil {
			t.Fatalf("ReadEnvelope accepted %q, Decode refused it: %v", frame, err)
		}
		if m.Type != env.Type || m.Device != env.Device || m.TS != env.TS || m.Data == nil || m.ID != "" || m.Name != "" || m.Args != nil || m.OK != nil || m.Error != nil {
			t.Fatalf("ReadEnvelope(%q) = %+v, Decode = %+v", frame, env, m)
		}
		out, ok := protocol.Forward(frame, env, "d_x", "2026-11-22T10:00:00Z")
		if !ok {
			if m.Device == "" || m.Device == "d_x" {
				t.Fatalf("Forward refused %q", frame)
			}
			return
		}
		if m.Device != "" && m.Device != "d_x" {
			t.Fatalf("Forward passed %q, which speaks for %s", frame, m.Device)
		}
		// What the relay would send after decoding: its device and a ts.
		m.Device = "d_x"
		if m.TS == "" {
			m.TS = "2026-11-22T10:00:00Z"
		}
		again, err := protocol.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatalf("Forward(%q) = %q, not JSON: %v", frame, out, err)
		}
		if err := json.Unmarshal(again, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("forwarded %q means %v; re-encoded %q means %v", out, a, again, b)
		}
	})
}

// TestForward checks what Forward adds to a frame and what it refuses.
func TestForward(t *testing.T) {
	for _, c := range []struct{ frame, want string }{
		{`{"type":"event","device":"d_x","ts":"t","data":1}`, `{"type":"event","device":"d_x","ts":"t","data":1}`},
		{`{"type":"event","ts":"t","data":1}`, `{"device":"d_x","type":"event","ts":"t","data":1}`},
		{`{"type":"event","device":"d_x","data":1}`, `{"ts":"now","type":"event","device":"d_x","data":1}`},
		{`{"type":"event","data":1}`, `{"device":"d_x","ts":"now","type":"event","data":1}`},
		{`{"type":"event","device":"d_y","ts":"t","data":1}`, ""},
	} {
		env, ok := protocol.ReadEnvelope([]byte(c.frame))
		if !ok {
			t.Fatalf("ReadEnvelope(%s) refused it", c.frame)
		}
		out, ok := protocol.Forward([]byte(c.frame), env, "d_x", "now")
		if string(out) != c.want || ok != (c.want != "") {
			t.Errorf("Forward(%s) = %s, %v; want %s", c.frame, out, ok, c.want)
		}
	}
}
