package server

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/broker"
)

// Files sent from a browser to a desktop (receive_files) stream through
// the hub: file_begin is checked like a command and forwarded to the
// agent; chunks (binary frames) are forwarded only within the window the
// agent granted, so the relay holds at most MaxWindow chunks of a
// transfer whatever the file's size; acks come back to the sender; the
// agent's result is the transfer's one outcome. When the sender, the agent
// or a relay node goes away, the other side is told (file_cancel to the
// agent, a result to the sender). cluster.go carries the same frames
// between nodes (transfer_cluster.go).

// Limits of transfers on the relay.
const (
	// maxDeviceTransfers bounds the transfers open to one desktop, so its
	// socket's send queue (SendQueue frames) never holds more than
	// maxDeviceTransfers × MaxWindow chunks.
	maxDeviceTransfers = 8
	// transferIdle fails a transfer in which nothing moved for this long.
	transferIdle = 60 * time.Second
)

// transfer is one file on its way through this node. On the node of the
// sender, client is set; on the node of the agent, agent is set; on one
// node both are. rid is the id this node gave it: the agent's id for the
// transfer when agent is set, the id the agent's node knows it by when
// node is set.
type transfer struct {
	rid      string
	device   string
	client   *clientConn // the sender, when on this node
	clientID string      // the id the sender chose
	agent    *agentConn  // the desktop, when on this node
	node     string      // the node holding the desktop, when another
	origin   string      // the node of the sender, when another
	originID string      // and its id for the transfer

	chunks   uint32 // chunks the file takes
	lastLen  int    // bytes in the last chunk
	next     uint32 // the chunk expected next from the sender
	acked    uint32 // chunks the agent has written
	window   uint32 // chunks the sender may have unacknowledged; 0 until accepted
	ended    bool   // file_end went on
	accepted bool
	timer    *time.Timer // transferIdle
	moved    bool        // something moved since the timer was armed
}

// fileBegin checks a client's file_begin and forwards it to the device,
// or answers it at once. Either way the transfer gets exactly one result.
func (h *hub) fileBegin(c *clientConn, msg *protocol.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	refuse := func(err *protocol.Error) {
		h.m.command(err.Code)
		c.send(encode(protocol.Result(msg.ID, msg.Device, nil, err)))
	}
	var b protocol.FileBegin
	switch {
	case msg.ID == "":
		c.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "file_begin without an id")))
		return
	case c.ids[msg.ID] || c.files[msg.ID] != nil:
		c.send(encode(&protocol.Message{Type: protocol.TypeError, ID: msg.ID,
			Error: protocol.Errorf(protocol.CodeBadRequest, "a command or transfer with id %q is already pending", msg.ID)}))
		return
	case len(msg.Data) == 0 || json.Unmarshal(msg.Data, &b) != nil:
		refuse(protocol.Errorf(protocol.CodeInvalidArgs, "file_begin needs data {name, size, mime}"))
		return
	}
	if ok, retry := c.rate.take(h.cfg.Now(), h.cfg.CommandRate, h.cfg.CommandBurst); !ok {
		refuse(protocol.Errorf(protocol.CodeRateLimited, "too many commands; retry in %d ms", retry.Milliseconds()+1))
		return
	}
	if len(c.files) >= protocol.MaxTransfers {
		refuse(protocol.Errorf(protocol.CodeRateLimited, "%d files are already on their way from this page; wait for one to finish", protocol.MaxTransfers))
		return
	}
	hello, node, perr := h.reachLocked(c, msg.Device)
	if perr != nil {
		refuse(perr)
		return
	}
	if err := checkFileBegin(hello, &b); err != nil {
		refuse(err)
		return
	}
	b.From = c.label // a label the person chose when pairing says most
	if b.From == "" {
		b.From = h.book.browser(c.session, msg.Device) // else the pairing's browser, as on commands
	}
	t := &transfer{device: msg.Device, client: c, clientID: msg.ID, chunks: protocol.Chunks(b.Size)}
	t.lastLen = int(b.Size - int64(max(t.chunks, 1)-1)*protocol.MaxChunk)
	if node != h.node {
		if perr := h.unreachableLocked(node); perr != nil {
			refuse(perr)
			return
		}
		t.rid = h.newRIDLocked()
		fwd := encode(&protocol.Message{Type: protocol.TypeFileBegin, ID: t.rid, Device: msg.Device, Data: protocol.MustData(b)})
		if err := h.br.Send(node, broker.Event{Kind: kindFile, Device: msg.Device, ID: t.rid, Data: fwd}); err != nil {
			refuse(protocol.Errorf(protocol.CodeUnavailable, "the relay node holding the device cannot be reached; try again in a few seconds"))
			return
		}
		t.node = node
	} else {
		a := h.agents[msg.Device]
		if len(a.files) >= maxDeviceTransfers {
			refuse(protocol.Errorf(protocol.CodeRateLimited, "%d files are already on their way to this computer; try again when one is done", maxDeviceTransfers))
			return
		}
		t.rid = h.newRIDLocked()
		if !a.send(encode(&protocol.Message{Type: protocol.TypeFileBegin, ID: t.rid, Device: msg.Device, Data: protocol.MustData(b)})) {
			refuse(sendFailed(a))
			return
		}
		t.agent = a
		a.addFile(t.rid, t)
	}
	c.files[msg.ID] = t
	h.files[t.rid] = t
	h.armLocked(t)
	h.m.relay(protocol.TypeFileBegin, 1)
}

// sendFailed says why a frame could not be queued for agent a: it is
// going away, or it reads too slowly.
func sendFailed(a *agentConn) *protocol.Error {
	if a.isClosing() {
		return protocol.Errorf(protocol.CodeDeviceOffline, "the computer disconnected during the transfer")
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the device's connection is overloaded")
}

// checkFileBegin checks a file_begin against the receive_files spec the
// device advertised (switched on, not paused, name, size within the
// owner's limit) and that the name is one line of text.
func checkFileBegin(hello *protocol.Hello, b *protocol.FileBegin) *protocol.Error {
	msg := &protocol.Message{Name: protocol.CommandReceiveFiles, Args: b.Args()}
	if _, err := checkCommand(hello, msg); err != nil {
		if spec := protocol.FindCommand(hello.Commands, protocol.CommandReceiveFiles); err.Code == protocol.CodeInvalidArgs &&
			spec != nil && b.Size > 0 && sizeOver(spec, b.Size) {
			return protocol.Errorf(protocol.CodeTooLarge, "%s is larger than this computer accepts (%s)", sizeText(b.Size), sizeText(int64(specMax(spec))))
		}
		return err
	}
	if b.Name == "" || !protocol.IsDisplayText(b.Name) || !protocol.IsDisplayText(b.MIME) {
		return protocol.Errorf(protocol.CodeInvalidArgs, "receive_files: the name and type must be one line of text")
	}
	return nil
}

// specMax is the largest size a receive_files spec allows.
func specMax(spec *protocol.CommandSpec) float64 {
	for _, a := range spec.Args {
		if a.Name == "size" && a.Max != nil {
			return *a.Max
		}
	}
	return 0
}

func sizeOver(spec *protocol.CommandSpec, size int64) bool {
	m := specMax(spec)
	return m > 0 && float64(size) > m
}

// sizeText writes n bytes for people, in MiB past one.
func sizeText(n int64) string {
	if n >= 1<<20 {
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// newRIDLocked returns a new relay id. mu held.
func (h *hub) newRIDLocked() string {
	h.nextID++
	return "r" + strconv.FormatUint(h.nextID, 36)
}

// fileChunk forwards a client's binary frame within its transfer's
// window. It reports false when the frame belongs to no open transfer of
// c (a chunk still on its way after a cancel, or junk), which the caller
// counts against the socket's frame budget. A chunk outside the window or
// out of order fails the transfer.
func (h *hub) fileChunk(c *clientConn, frame []byte) bool {
	ch, err := protocol.ParseChunk(frame)
	if err != nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := c.files[ch.ID]
	if t == nil {
		h.m.drop("chunk_unknown_transfer")
		return false
	}
	if perr := t.admit(ch); perr != nil {
		h.finishLocked(t, nil, perr, true)
		return true
	}
	h.forwardChunkLocked(t, ch)
	return true
}

// admit checks that chunk ch may go on now: the one expected next, within
// the window, of the right length.
func (t *transfer) admit(ch protocol.Chunk) *protocol.Error {
	switch {
	case !t.accepted:
		return protocol.Errorf(protocol.CodeBadRequest, "file chunk sent before the computer accepted the transfer")
	case t.ended || ch.Seq >= t.chunks:
		return protocol.Errorf(protocol.CodeBadRequest, "file chunk %d past the end of the file", ch.Seq)
	case ch.Seq != t.next:
		return protocol.Errorf(protocol.CodeBadRequest, "file chunk %d out of order (expected %d)", ch.Seq, t.next)
	case ch.Seq >= t.acked+t.window:
		return protocol.Errorf(protocol.CodeBadRequest, "file chunk %d sent beyond the window the computer granted", ch.Seq)
	case ch.Seq < t.chunks-1 && len(ch.Data) != protocol.MaxChunk, ch.Seq == t.chunks-1 && len(ch.Data) != t.lastLen:
		return protocol.Errorf(protocol.CodeBadRequest, "file chunk %d has %d bytes: chunks have %d, the last one the rest", ch.Seq, len(ch.Data), protocol.MaxChunk)
	}
	return nil
}

// forwardChunkLocked sends an admitted chunk on to the agent, here or on
// its node. mu held.
func (h *hub) forwardChunkLocked(t *transfer, ch protocol.Chunk) {
	t.next++
	t.moved = true
	if t.node != "" {
		if err := h.br.Send(t.node, broker.Event{Kind: kindChunk, ID: t.rid, Seq: uint64(ch.Seq), Data: protocol.MustData(ch.Data)}); err != nil {
			h.finishLocked(t, nil, protocol.Errorf(protocol.CodeUnavailable, "the relay node holding the device cannot be reached"), true)
		}
		return
	}
	frame := protocol.AppendChunk(make([]byte, 0, 6+len(t.rid)+len(ch.Data)), t.rid, ch.Seq, ch.Data)
	if !t.agent.send(frame) {
		h.finishLocked(t, nil, sendFailed(t.agent), false)
		return
	}
	h.m.relay(relayedFileChunk, 1)
}

// fileControl handles a client's file_end or file_cancel.
func (h *hub) fileControl(c *clientConn, msg *protocol.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := c.files[msg.ID]
	if t == nil {
		if msg.Type == protocol.TypeFileEnd {
			c.send(encode(&protocol.Message{Type: protocol.TypeError, ID: msg.ID,
				Error: protocol.Errorf(protocol.CodeBadRequest, "no transfer with id %q is open", msg.ID)}))
		}
		return // a cancel that crossed the result
	}
	if msg.Type == protocol.TypeFileCancel {
		h.cancelLocked(t, protocol.Errorf(protocol.CodeCancelled, "the sender cancelled the transfer"))
		return
	}
	var e protocol.FileEnd
	if len(msg.Data) == 0 || json.Unmarshal(msg.Data, &e) != nil {
		h.finishLocked(t, nil, protocol.Errorf(protocol.CodeBadRequest, "file_end needs data {chunks, sha256}"), true)
		return
	}
	sum, perr := protocol.CheckFileEnd(e)
	switch {
	case perr != nil:
		h.finishLocked(t, nil, perr, true)
		return
	case t.ended || !t.accepted || e.Chunks != t.chunks || t.next != t.chunks:
		h.finishLocked(t, nil, protocol.Errorf(protocol.CodeBadRequest, "file_end after %d of %d chunks", t.next, t.chunks), true)
		return
	}
	t.ended, t.moved = true, true
	h.toAgentLocked(t, &protocol.Message{Type: protocol.TypeFileEnd, Data: protocol.MustData(protocol.FileEnd{Chunks: e.Chunks, SHA256: sum})})
}

// cancelLocked tells the agent to stop t; its result (code cancelled)
// comes back as usual. Before the agent accepted, or when it cannot be
// told, the relay answers at once. mu held.
func (h *hub) cancelLocked(t *transfer, err *protocol.Error) {
	if !h.toAgentLocked(t, &protocol.Message{Type: protocol.TypeFileCancel}) {
		h.finishLocked(t, nil, err, false)
	}
}

// toAgentLocked sends a JSON frame of t to its agent, here or through its
// node, with the id the agent knows. It reports whether it went. mu held.
func (h *hub) toAgentLocked(t *transfer, m *protocol.Message) bool {
	m.ID, m.Device = t.rid, t.device
	if t.node != "" {
		return h.br.Send(t.node, broker.Event{Kind: kindFile, Device: t.device, ID: t.rid, Data: encode(m)}) == nil
	}
	return t.agent != nil && t.agent.send(encode(m))
}

// agentFileAck records an agent's file_ack and passes it to the sender.
// It reports whether the ack moved its transfer (accepted it, or
// acknowledged chunks not acknowledged before): only those are paced by
// the transfer; the caller counts the others against the socket's frame
// budget.
func (h *hub) agentFileAck(a *agentConn, msg *protocol.Message) bool {
	var ack protocol.FileAck
	if len(msg.Data) == 0 || json.Unmarshal(msg.Data, &ack) != nil {
		a.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "file_ack needs data {next, window}")))
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := a.files[msg.ID]
	if t == nil {
		h.m.drop("ack_unknown_transfer")
		return false
	}
	return h.ackLocked(t, ack)
}

// ackLocked applies an ack of t's agent (here or on t's node) and passes
// it to the sender (here or on t's origin). An ack that goes back, or
// past what was sent, is ignored. It reports whether the ack moved the
// transfer. mu held.
func (h *hub) ackLocked(t *transfer, ack protocol.FileAck) bool {
	if ack.Next < t.acked || ack.Next > t.next || (t.accepted && ack.Next == t.acked) {
		return false
	}
	t.acked = ack.Next
	t.window = uint32(min(max(ack.Window, 1), protocol.MaxWindow))
	t.accepted, t.moved = true, true
	ack.Window = int(t.window)
	switch {
	case t.client != nil:
		t.client.send(encode(&protocol.Message{Type: protocol.TypeFileAck, ID: t.clientID, Device: t.device, Data: protocol.MustData(ack)}))
	case t.origin != "":
		if err := h.br.Send(t.origin, broker.Event{Kind: kindFileAck, ID: t.originID, Data: protocol.MustData(ack)}); err != nil {
			h.finishLocked(t, nil, protocol.Errorf(protocol.CodeUnavailable, "the relay node of the sender cannot be reached"), true)
		}
	}
	return true
}

// agentFileResult routes an agent's result for a transfer; it reports
// false when id is no transfer of a. mu held.
func (h *hub) agentFileResultLocked(a *agentConn, msg *protocol.Message) bool {
	t := a.files[msg.ID]
	if t == nil {
		return false
	}
	var err *protocol.Error
	if msg.OK == nil || !*msg.OK {
		err = boundError(msg.Error)
		if err == nil {
			err = protocol.Errorf(protocol.CodeInternal, "the device reported a failure without a reason")
		}
	}
	h.finishLocked(t, msg.Data, err, false)
	return true
}

// finishLocked ends t with its one outcome: the sender gets the result
// (here or through its node), the agent is told to stop when cancelAgent
// (the relay ended the transfer, not the agent), and t is forgotten. mu held.
func (h *hub) finishLocked(t *transfer, data json.RawMessage, err *protocol.Error, cancelAgent bool) {
	if h.files[t.rid] != t {
		return // finished already
	}
	if cancelAgent {
		h.toAgentLocked(t, &protocol.Message{Type: protocol.TypeFileCancel})
	}
	delete(h.files, t.rid)
	if t.timer != nil {
		t.timer.Stop()
	}
	if t.agent != nil {
		delete(t.agent.files, t.rid)
	}
	if t.origin != "" {
		delete(h.filesIn, t.origin+" "+t.originID)
	}
	code := "ok"
	if err != nil {
		code = err.Code
	}
	switch {
	case t.client != nil:
		delete(t.client.files, t.clientID)
		h.m.command(code)
		if !t.client.send(encode(protocol.Result(t.clientID, t.device, data, err))) {
			h.m.drop("result_client_gone")
		}
	case t.origin != "":
		h.replyFileLocked(t.origin, t.originID, data, err)
	}
}

// armLocked starts t's idle timer: when nothing moved in transferIdle,
// the transfer fails with timeout. mu held.
func (h *hub) armLocked(t *transfer) {
	t.timer = time.AfterFunc(transferIdle, func() { h.idle(t) })
}

func (h *hub) idle(t *transfer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.files[t.rid] != t {
		return
	}
	if t.moved {
		t.moved = false
		t.timer.Reset(transferIdle)
		return
	}
	h.finishLocked(t, nil, protocol.Errorf(protocol.CodeTimeout, "nothing moved for %s", transferIdle), true)
}

// failFilesLocked ends every transfer of agent a with err (a is gone or
// replaced). mu held.
func (h *hub) failFilesLocked(a *agentConn, err *protocol.Error) {
	for _, t := range a.files {
		t.agent = nil
		h.finishLocked(t, nil, err, false)
	}
}

// dropClientFilesLocked ends every transfer of client c, which is gone:
// the agents are told to stop and delete what they wrote. mu held.
func (h *hub) dropClientFilesLocked(c *clientConn) {
	for _, t := range c.files {
		h.finishLocked(t, nil, protocol.Errorf(protocol.CodeCancelled, "the sender's connection closed"), true)
	}
}
