package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

// TestRemoteHellosDecodedOnlyWhenUsed: a node keeps the hello of every
// agent other nodes hold as its JSON, and decodes one only when it is
// used (a presence, a command): at 100,000 agents the decoded hellos of all
// of them were most of a node's memory.
func TestRemoteHellosDecodedOnlyWhenUsed(t *testing.T) {
	r := newRelay(t, nil)
	h := r.srv.hub
	at := time.Now().UnixNano()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range 100 {
		raw := protocol.MustData(protocol.Hello{Name: fmt.Sprint("box", i), OS: "linux",
			Commands: []protocol.CommandSpec{{Name: protocol.CommandBeep}}})
		h.setRemoteLocked("n_other", fmt.Sprint("d_", i), at, raw)
	}
	h.remote["d_bad"] = map[string]*remoteAgent{"n_other": {at: at, helloRaw: []byte(`{"name":`)}}

	decoded := func() (n int) {
		for _, m := range h.remote {
			if m["n_other"].hello != nil {
				n++
			}
		}
		return n
	}
	if n := decoded(); n != 0 {
		t.Fatalf("%d hellos decoded before any was used", n)
	}
	if node := h.ownerNodeLocked("d_7"); node != "n_other" || decoded() != 0 {
		t.Fatalf("ownerNodeLocked = %q with %d decoded, want n_other and none", node, decoded())
	}
	hello, node := h.ownerLocked("d_7")
	if node != "n_other" || hello == nil || hello.Name != "box7" || protocol.FindCommand(hello.Commands, protocol.CommandBeep) == nil {
		t.Fatalf("ownerLocked = %+v, %q", hello, node)
	}
	if again, _ := h.ownerLocked("d_7"); again != hello || decoded() != 1 {
		t.Fatalf("a second use decoded again, or others were decoded: %d decoded", decoded())
	}
	if hello, node := h.ownerLocked("d_bad"); hello != nil || node != "n_other" {
		t.Fatalf("a hello that does not decode gave %+v, %q; want nil on n_other", hello, node)
	}
}
