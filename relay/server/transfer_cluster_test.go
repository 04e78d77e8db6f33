package server

import (
	"bytes"
	"crypto/rand"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/tether-desktop/tether/internal/sendfile"
	"github.com/tether-desktop/tether/protocol"
)

// TestTransferAcrossNodes sends files from a browser on one relay node to
// a desktop held by another: the bytes arrive whole within the window,
// and the desktop's node going away ends the transfer with one result.
func TestTransferAcrossNodes(t *testing.T) {
	nodes, _ := newClusterNodes(t, 2)
	dev, tok := nodes[0].register("box")
	a := nodes[0].agentWithFiles(tok, 1<<30)
	sess := nodes[0].pair(nodes[0].code(tok), "")
	client := nodes[1].client(sess)
	client.waitPresenceWhere(dev, func(p protocol.Presence) bool {
		return p.Online && slices.Contains(p.Capabilities, protocol.CommandReceiveFiles)
	})
	maxHeld := 0
	var cutAt atomic.Uint32 // the agent's socket closes on this chunk, when set
	in := serveInbox(t, a, protocol.DefaultWindow, func(_ string, seq uint32) bool {
		if n := cutAt.Load(); n > 0 && seq == n {
			a.conn.Close()
			return false
		}
		nodes[1].srv.hub.mu.Lock()
		for _, tr := range nodes[1].srv.hub.files {
			maxHeld = max(maxHeld, int(tr.next-tr.acked))
		}
		nodes[1].srv.hub.mu.Unlock()
		return true
	})
	data := make([]byte, 5<<20+99)
	rand.Read(data)
	res, err := sendfile.Send(client.conn, "x1", dev, "cross.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == nil || !*res.OK || res.ID != "x1" || res.Device != dev {
		t.Fatalf("result %+v %v", res, res.Error)
	}
	if maxHeld > protocol.DefaultWindow {
		t.Fatalf("the sender's node let %d chunks go unacknowledged, over the window %d", maxHeld, protocol.DefaultWindow)
	}
	in.mu.Lock()
	if len(in.begins) != 1 || in.received[in.begins[0].ID] != int(protocol.Chunks(int64(len(data)))) {
		t.Fatalf("the agent saw %d begins, %v chunks", len(in.begins), in.received)
	}
	in.mu.Unlock()

	// A cancel from the browser reaches the agent across nodes.
	res, err = sendfile.Send(client.conn, "x2", dev, "cancel.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{CancelAfter: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || res.Error.Code != protocol.CodeCancelled {
		t.Fatalf("cancel across nodes: %+v", res)
	}
	in.mu.Lock()
	cancels := len(in.cancels)
	in.mu.Unlock()
	if cancels != 1 {
		t.Fatalf("the agent saw %d cancels, want 1", cancels)
	}

	// The agent's socket on the other node closes mid-transfer.
	cutAt.Store(10)
	res, err = sendfile.Send(client.conn, "x3", dev, "gone.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || res.Error.Code != protocol.CodeDeviceOffline {
		t.Fatalf("agent gone across nodes: %+v", res)
	}
}
