package agent

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

// Files sent from a browser arrive on the link as file_begin, binary
// chunks, file_end or file_cancel (PROTOCOL.md, "Sending files"). The
// reader hands each to the transfer's worker through a queue as deep as
// the window the agent granted, so it never blocks; the worker writes to
// the inbox, acknowledges as it writes (which lets the sender send more),
// and ends with the transfer's one result. A transfer the link loses
// midway is aborted: nothing of it stays on disk.

// maxAgentTransfers bounds the transfers being received at once.
const maxAgentTransfers = 8

// ackEvery: the worker acknowledges after this many chunks written (and
// after the last), half the window, so the sender never starves and the
// acks stay well under the relay's frame rate.
const ackEvery = protocol.DefaultWindow / 2

// transfers are the transfers of one link. Its maps are touched by the
// reader only; workers are owned by the agent's command WaitGroup.
type transfers struct {
	mu   sync.Mutex // guards open (workers remove themselves)
	open map[string]*incoming
}

// incoming is one transfer being received.
type incoming struct {
	id, device string
	chunks     uint32 // chunks the file takes
	next       uint32 // the chunk expected next (reader only)
	queue      chan item
	cancel     context.CancelFunc
	reason     atomic.Pointer[protocol.Error] // why it was stopped; set before cancel
}

// item is one thing for a worker: a chunk, or the end (sum set).
type item struct {
	data []byte
	buf  *[]byte // the frame data is in, back to frameBufs once written
	end  bool
	sum  string
}

// frameBufs holds the buffers the reader reads binary frames into. A file
// arrives in chunks of up to 48 KiB; read with ReadMessage each was a new
// buffer, grown by doubling from 512 bytes (~128 KiB of garbage a chunk),
// and with a running agent's small heap goal (GOGC 25, cmd/tether) the
// collections took as much of its one processor as the file did. A chunk's
// buffer comes back once its worker wrote it (putFrameBuf).
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, frameBufSize); return &b }}

// frameBufSize holds a chunk and its header; a buffer a larger (bad) frame
// grew is not kept.
const frameBufSize = 64 << 10

func putFrameBuf(b *[]byte) {
	if b != nil && cap(*b) <= frameBufSize {
		*b = (*b)[:0]
		frameBufs.Put(b)
	}
}

// fileFrame handles a JSON frame of a transfer. Called by the reader only.
func (l *link) fileFrame(m *protocol.Message) {
	switch m.Type {
	case protocol.TypeFileBegin:
		l.fileBegin(m)
	case protocol.TypeFileEnd:
		var e protocol.FileEnd
		sum, perr := "", (*protocol.Error)(nil)
		if json.Unmarshal(m.Data, &e) != nil {
			perr = protocol.Errorf(protocol.CodeBadRequest, "file_end does not decode")
		} else {
			sum, perr = protocol.CheckFileEnd(e)
		}
		t := l.files.get(m.ID)
		if t == nil {
			return
		}
		if perr == nil && (e.Chunks != t.chunks || t.next != t.chunks) {
			perr = protocol.Errorf(protocol.CodeBadRequest, "file_end after %d of %d chunks", t.next, t.chunks)
		}
		if perr != nil {
			l.failTransfer(t, perr)
			return
		}
		t.put(item{end: true, sum: sum})
	case protocol.TypeFileCancel:
		if t := l.files.get(m.ID); t != nil {
			l.failTransfer(t, protocol.Errorf(protocol.CodeCancelled, "the transfer was cancelled: the sender stopped it or went away"))
		}
	}
}

// fileBegin checks a file_begin (the dispatcher's whitelist and the
// inbox's limits) and starts the transfer's worker, which accepts it with
// the first ack; or answers the refusal. Called by the reader only.
func (l *link) fileBegin(m *protocol.Message) {
	dev := l.deviceID
	var b protocol.FileBegin
	refuse := func(perr *protocol.Error) { l.fileOutcome(m.ID, dev, b, nil, perr) }
	if m.ID == "" || json.Unmarshal(m.Data, &b) != nil {
		refuse(protocol.Errorf(protocol.CodeInvalidArgs, "file_begin needs an id and data {name, size, mime}"))
		return
	}
	if l.files.get(m.ID) != nil {
		return // a duplicate: the first one's result will come
	}
	if l.files.count() >= maxAgentTransfers {
		refuse(protocol.Errorf(protocol.CodeRateLimited, "%d files are already on their way to this computer", maxAgentTransfers))
		return
	}
	recv, perr := l.runner.disp.Receiver(protocol.CommandReceiveFiles, b.Args())
	if perr != nil {
		refuse(perr)
		return
	}
	if !protocol.IsDisplayText(b.Name) || !protocol.IsDisplayText(b.From) {
		refuse(protocol.Errorf(protocol.CodeInvalidArgs, "receive_files: the name must be one line of text"))
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	sink, err := recv.Begin(ctx, b.From, b.Name, b.Size)
	if err != nil {
		cancel()
		refuse(protocol.AsError(err))
		return
	}
	t := &incoming{id: m.ID, device: dev, chunks: protocol.Chunks(b.Size), cancel: cancel,
		queue: make(chan item, protocol.DefaultWindow+2)}
	l.files.add(t)
	l.log.Info("receiving a file", "id", m.ID, "bytes", b.Size)
	l.work(func() {
		defer cancel()
		defer l.files.remove(t)
		data, perr := l.receive(ctx, t, sink)
		l.fileOutcome(t.id, t.device, b, data, perr)
	})
}

// fileOutcome is where every transfer ends, refused at once or after its
// bytes: it logs the outcome and sends the transfer's one result (unless
// the link is gone: the relay has answered the sender). Called once per
// transfer; the activity log's hook goes here (see files-hooks.md).
func (l *link) fileOutcome(id, dev string, b protocol.FileBegin, data json.RawMessage, perr *protocol.Error) {
	if perr != nil {
		l.log.Info("file not received", "id", id, "bytes", b.Size, "code", perr.Code, "err", perr.Message)
	} else {
		l.log.Info("file received", "id", id, "bytes", b.Size)
	}
	l.runner.recordFile(b, perr)
	if l.ctx.Err() == nil {
		l.sendResult(protocol.Result(id, dev, data, perr))
	}
}

// fileChunk hands a binary chunk to its transfer's worker. Called by the
// reader only.
func (l *link) fileChunk(buf *[]byte) {
	ch, err := protocol.ParseChunk(*buf)
	if err != nil {
		putFrameBuf(buf)
		l.log.Debug("ignoring a bad binary frame from the relay", "err", err)
		return
	}
	t := l.files.get(ch.ID)
	if t == nil {
		putFrameBuf(buf)
		return // cancelled meanwhile
	}
	if ch.Seq != t.next || ch.Seq >= t.chunks {
		putFrameBuf(buf)
		l.failTransfer(t, protocol.Errorf(protocol.CodeBadRequest, "file chunk %d out of order (expected %d)", ch.Seq, t.next))
		return
	}
	t.next++
	if !t.put(item{data: ch.Data, buf: buf}) {
		putFrameBuf(buf)
		l.failTransfer(t, protocol.Errorf(protocol.CodeBadRequest, "file chunks sent beyond the window"))
	}
}

// failTransfer stops t: its worker aborts at once and answers perr (the
// first reason given wins).
func (l *link) failTransfer(t *incoming, perr *protocol.Error) {
	t.reason.CompareAndSwap(nil, perr)
	t.cancel()
}

// put queues it for the worker without blocking; false when the queue is
// full (the sender exceeded the window).
func (t *incoming) put(it item) bool {
	select {
	case t.queue <- it:
		return true
	default:
		return false
	}
}

// receive is a transfer's worker: it accepts the transfer, writes its
// chunks, acknowledges them and commits or aborts. It returns the result.
func (l *link) receive(ctx context.Context, t *incoming, sink commands.FileSink) (json.RawMessage, *protocol.Error) {
	committed := false
	defer func() {
		if !committed {
			sink.Abort()
		}
	}()
	var written, acked uint32
	if !l.sendAck(t, 0) {
		return nil, protocol.Errorf(protocol.CodeDeviceOffline, "the link closed")
	}
	for {
		var it item
		select {
		case <-ctx.Done():
			return nil, t.stopped()
		case it = <-t.queue:
		}
		if ctx.Err() != nil {
			return nil, t.stopped()
		}
		if it.end {
			data, err := sink.Commit(ctx, it.sum)
			if err != nil {
				return nil, protocol.AsError(err)
			}
			committed = true
			return data, nil
		}
		err := sink.Write(it.data)
		putFrameBuf(it.buf)
		if err != nil {
			return nil, protocol.AsError(err)
		}
		written++
		if written-acked >= ackEvery || written == t.chunks {
			if !l.sendAck(t, written) {
				return nil, protocol.Errorf(protocol.CodeDeviceOffline, "the link closed")
			}
			acked = written
		}
	}
}

// stopped is why t's context ended: the reason given to failTransfer,
// or the link closing.
func (t *incoming) stopped() *protocol.Error {
	if r := t.reason.Load(); r != nil {
		return r
	}
	return protocol.Errorf(protocol.CodeDeviceOffline, "the link to the relay closed during the transfer")
}

// sendAck tells the sender that next chunks are written, granting the
// default window; false when the link closed.
func (l *link) sendAck(t *incoming, next uint32) bool {
	b, err := protocol.Encode(&protocol.Message{Type: protocol.TypeFileAck, ID: t.id, Device: t.device,
		Data: protocol.MustData(protocol.FileAck{Next: next, Window: protocol.DefaultWindow})})
	if err != nil {
		return false
	}
	select {
	case l.out <- b:
		return true
	case <-l.ctx.Done():
		return false
	}
}

func (ts *transfers) get(id string) *incoming {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.open[id]
}

func (ts *transfers) add(t *incoming) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.open == nil {
		ts.open = map[string]*incoming{}
	}
	ts.open[t.id] = t
}

func (ts *transfers) remove(t *incoming) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.open[t.id] == t {
		delete(ts.open, t.id)
	}
}

func (ts *transfers) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.open)
}
