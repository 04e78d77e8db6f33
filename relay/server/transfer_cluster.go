package server

import (
	"encoding/json"

	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/broker"
)

// Transfers across relay nodes: the sender's node (A) keeps the sender's
// side of a transfer and the node holding the desktop (B) the agent's
// side, each with its own id and each enforcing the window, so neither
// holds more than a window of chunks. A sends file_begin, file_end and
// file_cancel as kindFile (Data: the frame with A's id), chunks as
// kindChunk (Seq: the chunk's number, Data: its bytes in base64); B sends
// back kindFileAck (Data: the FileAck) and one kindFileResult (Data: the
// outcome). Each is addressed by A's id.

// Kinds of broker events that carry transfers.
const (
	kindFile       broker.Kind = "file"        // to the desktop's node: file_begin, file_end or file_cancel
	kindChunk      broker.Kind = "file_chunk"  // to the desktop's node: one chunk
	kindFileAck    broker.Kind = "file_ack"    // to the sender's node: the agent's ack
	kindFileResult broker.Kind = "file_result" // to the sender's node: the outcome
)

// onFileEventLocked handles a transfer event from another node and
// reports whether e was one. mu held.
func (h *hub) onFileEventLocked(e broker.Event) bool {
	switch e.Kind {
	case kindFile:
		h.onFileLocked(e)
	case kindChunk:
		h.onChunkLocked(e)
	case kindFileAck:
		var ack protocol.FileAck
		if t := h.files[e.ID]; t != nil && t.node == e.From && json.Unmarshal(e.Data, &ack) == nil {
			h.ackLocked(t, ack)
		}
	case kindFileResult:
		t := h.files[e.ID]
		if t == nil || t.node != e.From {
			h.m.drop("result_unknown_id")
			return true
		}
		var r remoteResult
		if err := json.Unmarshal(e.Data, &r); err != nil {
			r = remoteResult{Error: protocol.Errorf(protocol.CodeInternal, "the relay node holding the device sent a result that does not decode")}
		}
		if r.Error == nil && len(r.Data) == 0 {
			r.Data = nil
		}
		h.finishLocked(t, r.Data, boundError(r.Error), false)
	default:
		return false
	}
	return true
}

// onFileLocked handles file_begin, file_end and file_cancel from the
// sender's node. mu held.
func (h *hub) onFileLocked(e broker.Event) {
	var msg protocol.Message
	if err := json.Unmarshal(e.Data, &msg); err != nil || msg.Device != e.Device {
		h.replyFileLocked(e.From, e.ID, nil, protocol.Errorf(protocol.CodeBadRequest, "the transfer frame does not decode"))
		return
	}
	if msg.Type == protocol.TypeFileBegin {
		h.onRemoteBeginLocked(e, &msg)
		return
	}
	t := h.filesIn[e.From+" "+e.ID]
	if t == nil {
		return // ended here already: the result is on its way
	}
	switch msg.Type {
	case protocol.TypeFileEnd:
		t.ended, t.moved = true, true
		h.toAgentLocked(t, &protocol.Message{Type: protocol.TypeFileEnd, Data: msg.Data})
	case protocol.TypeFileCancel:
		h.cancelLocked(t, protocol.Errorf(protocol.CodeCancelled, "the sender cancelled the transfer"))
	}
}

// onRemoteBeginLocked opens the agent's side of a transfer whose sender
// is on another node. mu held.
func (h *hub) onRemoteBeginLocked(e broker.Event, msg *protocol.Message) {
	var b protocol.FileBegin
	a := h.agents[e.Device]
	if len(msg.Data) == 0 || json.Unmarshal(msg.Data, &b) != nil {
		h.replyFileLocked(e.From, e.ID, nil, protocol.Errorf(protocol.CodeInvalidArgs, "file_begin needs data {name, size, mime}"))
		return
	}
	if a == nil || a.hello == nil {
		h.replyFileLocked(e.From, e.ID, nil, protocol.Errorf(protocol.CodeDeviceOffline, "the device is offline"))
		return
	}
	if err := checkFileBegin(a.hello, &b); err != nil {
		h.replyFileLocked(e.From, e.ID, nil, err)
		return
	}
	if len(a.files) >= maxDeviceTransfers {
		h.replyFileLocked(e.From, e.ID, nil, protocol.Errorf(protocol.CodeRateLimited, "%d files are already on their way to this computer; try again when one is done", maxDeviceTransfers))
		return
	}
	t := &transfer{rid: h.newRIDLocked(), device: e.Device, agent: a, origin: e.From, originID: e.ID, chunks: protocol.Chunks(b.Size)}
	t.lastLen = int(b.Size - int64(max(t.chunks, 1)-1)*protocol.MaxChunk)
	if !a.send(encode(&protocol.Message{Type: protocol.TypeFileBegin, ID: t.rid, Device: e.Device, Data: protocol.MustData(b)})) {
		h.replyFileLocked(e.From, e.ID, nil, sendFailed(a))
		return
	}
	a.addFile(t.rid, t)
	h.files[t.rid] = t
	h.filesIn[e.From+" "+e.ID] = t
	h.armLocked(t)
}

// onChunkLocked forwards a chunk from the sender's node to the agent,
// within the window the agent granted. mu held.
func (h *hub) onChunkLocked(e broker.Event) {
	t := h.filesIn[e.From+" "+e.ID]
	if t == nil {
		return
	}
	ch := protocol.Chunk{ID: e.ID, Seq: uint32(e.Seq)}
	if err := json.Unmarshal(e.Data, &ch.Data); err != nil {
		h.finishLocked(t, nil, protocol.Errorf(protocol.CodeBadRequest, "a file chunk from another relay node does not decode"), true)
		return
	}
	if perr := t.admit(ch); perr != nil {
		h.finishLocked(t, nil, perr, true)
		return
	}
	h.forwardChunkLocked(t, ch)
}

// replyFileLocked sends the outcome of a transfer back to the sender's node. mu held.
func (h *hub) replyFileLocked(node, id string, data json.RawMessage, err *protocol.Error) {
	r := remoteResult{Data: data, Error: err}
	if e := h.br.Send(node, broker.Event{Kind: kindFileResult, ID: id, Data: protocol.MustData(r)}); e != nil {
		h.m.drop(dropBrokerControl)
	}
}

// failRemoteFilesLocked ends every transfer that crosses to node (every
// node when node is "") with err: the sender is told, the agent here is
// told to stop. mu held.
func (h *hub) failRemoteFilesLocked(node string, err *protocol.Error) {
	for _, t := range h.files {
		switch {
		case t.node != "" && (node == "" || t.node == node):
			h.finishLocked(t, nil, err, false)
		case t.origin != "" && (node == "" || t.origin == node):
			h.finishLocked(t, nil, err, true)
		}
	}
}

// ownerFilesLocked ends the transfers sent to a node that no longer holds
// device. mu held.
func (h *hub) ownerFilesLocked(device, owner string) {
	for _, t := range h.files {
		if t.device == device && t.node != "" && t.node != owner {
			h.finishLocked(t, nil, protocol.Errorf(protocol.CodeDeviceOffline, "the computer disconnected during the transfer"), false)
		}
	}
}
