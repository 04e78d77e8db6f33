package server

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/store"
	"github.com/tether-desktop/tether/relay/wsread"
)

// upgrade counts a socket, refusing with 503 once shutdown has begun, and
// upgrades the request over a batchConn. On success the
// caller must call s.sockets.Done when the socket ends; on failure the answer
// is written.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) (*batchConn, bool) {
	if !s.track() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "the relay is restarting")
		return nil, false
	}
	ws, err := s.upgrader.Upgrade(batchHijacker{w}, r, nil)
	if err != nil {
		s.sockets.Done()
		return nil, false // the upgrader has answered
	}
	// gorilla's Conn is let go: the relay reads (wsread) and writes
	// (batchConn.writeFrame) its frames itself.
	return ws.NetConn().(*batchConn), true
}

// GET /ws/agent: the desktop's one socket.
func (s *Server) agentSocket(w http.ResponseWriter, r *http.Request) {
	d, ok := s.authDevice(w, r)
	if !ok {
		return
	}
	release := s.admitAgent(w)
	if release == nil {
		return
	}
	conn, ok := s.upgrade(w, r)
	if !ok {
		release()
		return
	}
	// The socket lives on with no goroutine of its own (its reader waits
	// in the poller) and this handler returns, so net/http lets go of the
	// connection's request, context and 8 KB of bufio buffers: an idle
	// socket holds only what it needs.
	s.serveAgent(conn, d, s.logAddr(r), release)
}

// agentReader reads an agent's socket (wsread.Handler).
type agentReader struct {
	s       *Server
	a       *agentConn
	helloed atomic.Bool
	noHello *time.Timer
	release func() // of the agent's admission
}

// serveAgent starts serving an upgraded agent socket. The socket owns one
// s.sockets count and calls release when it ends (agentReader.End).
func (s *Server) serveAgent(conn *batchConn, d store.Device, addr string, release func()) {
	a := &agentConn{peer: newPeer(conn, "agent", s.cfg.SendQueue, s.cfg.SendQueueBytes, s.m, s.cfg.Heartbeat, s.cfg.WriteTimeout), device: d, watchers: -1}
	h := &agentReader{s: s, a: a, release: release}
	rd := a.reader(h, protocol.MaxAgentFrame, s.cfg.DeadAfter)
	if err := s.hub.addAgent(a); err != nil {
		conn.writeFrame(opClose, closePayload(websocket.CloseServiceRestart, "relay restarting"), time.Now().Add(time.Second))
		conn.Close()
		release()
		s.sockets.Done()
		return
	}
	s.m.agents.Add(1)
	a.start()
	h.noHello = time.AfterFunc(s.cfg.HelloTimeout, func() {
		if !h.helloed.Load() {
			s.m.close("no_hello")
			a.requestClose(websocket.ClosePolicyViolation, "no hello in time")
		}
	})
	a.send(encode(&protocol.Message{Type: protocol.TypeWelcome, Data: protocol.MustData(protocol.Welcome{
		DeviceID: d.ID, Heartbeat: int(s.cfg.Heartbeat / time.Second), MaxFrame: protocol.MaxAgentFrame,
		ServerTime: protocol.Timestamp(s.cfg.Now()),
	})}))
	s.cfg.Logger.Info("agent connected", "device", d.ID, "addr", addr)
	rd.Start()
}

// Ping answers the agent's ping.
func (h *agentReader) Ping(data []byte) { h.a.Ping(data) }

// End ends the agent's socket: the relay's close frame after what is
// queued, the agent's answer, then the hub forgets it.
func (h *agentReader) End(err error) {
	s, a := h.s, h.a
	h.noHello.Stop()
	a.requestClose(closeFor(err))
	a.awaitEnd()
	now := s.cfg.Now()
	s.hub.removeAgent(a, now)
	if a.hello != nil {
		s.seen.record(a.device.ID, a.device.Name, a.device.OS, now) // written by s.seen, not here
	}
	s.cfg.Logger.Info("agent disconnected", "device", a.device.ID, "reason", closeReason(err))
	s.m.agents.Add(-1)
	h.release()
	s.sockets.Done()
}

// Message handles one frame from the agent; an error ends the socket.
func (h *agentReader) Message(frame []byte, binary bool) error {
	s, a := h.s, h.a
	if err := a.admit(frame, binary, s.cfg.AgentFrameRate, s.cfg.AgentFrameBurst); err != nil {
		return err
	}
	if binary { // agents send no binary frames
		if !a.spend(s.cfg.AgentFrameRate, s.cfg.AgentFrameBurst) {
			return errFlood
		}
		a.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "agents may not send binary frames")))
		return nil
	}
	if h.helloed.Load() && s.forwardData(a, frame) {
		return nil
	}
	msg, err := protocol.Decode(frame)
	if err != nil {
		a.send(errorFrame(protocol.AsError(err)))
		return nil
	}
	if !h.helloed.Load() && msg.Type != protocol.TypeHello {
		a.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "the first frame must be hello")))
		return nil
	}
	switch msg.Type {
	case protocol.TypeHello:
		hello, err := decodeHello(msg.Data)
		if err != nil {
			a.send(errorFrame(err))
			return nil
		}
		if !h.helloed.Load() {
			s.seen.record(a.device.ID, hello.Name, hello.OS, s.cfg.Now())
		}
		h.helloed.Store(true)
		s.hub.agentHello(a, hello)
	case protocol.TypeTelemetry, protocol.TypeEvent:
		s.hub.agentData(a, msg)
	case protocol.TypeResult:
		s.hub.agentResult(a, msg)
	case protocol.TypeFileAck:
		if !s.hub.agentFileAck(a, msg) && bytes.HasPrefix(frame, fileAckPrefix) && !a.spend(s.cfg.AgentFrameRate, s.cfg.AgentFrameBurst) {
			return errFlood
		}
	default:
		a.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "agents may not send %q frames", msg.Type)))
	}
	return nil
}

// forwardData forwards frame to a's watchers as it came, and reports
// whether it did: telemetry and events in the agent's own shape, speaking
// for a's device (or none; device and ts are added when missing), whose
// envelope alone is read (protocol.ReadEnvelope). For every other frame it
// reports false, and the caller decodes it in full.
func (s *Server) forwardData(a *agentConn, frame []byte) bool {
	env, ok := protocol.ReadEnvelope(frame)
	if !ok || (env.Type != protocol.TypeTelemetry && env.Type != protocol.TypeEvent) {
		return false
	}
	now := ""
	if env.TS == "" {
		now = protocol.Timestamp(s.cfg.Now())
	}
	out, ok := protocol.Forward(frame, env, a.device.ID, now)
	if !ok {
		return false
	}
	s.hub.agentFrame(a, env.Type, out)
	return true
}

// GET /ws/client: a paired browser's (or script's) socket.
func (s *Server) clientSocket(w http.ResponseWriter, r *http.Request) {
	sess, _, how, ok := s.session(w, r)
	if !ok {
		return
	}
	// A browser always sends Origin on a WebSocket; with cookie auth it must
	// be ours, or any site could drive the desktop with the visitor's cookie.
	if how == viaCookie && !s.origins[strings.ToLower(r.Header.Get("Origin"))] {
		writeError(w, http.StatusForbidden, protocol.CodeForbidden, "WebSocket from a foreign origin refused")
		return
	}
	ctx, cancel := storeCtx()
	devices, err := s.cfg.Store.PairedDevices(ctx, sess.ID)
	if err == nil {
		s.book.learnSession(ctx, sess.ID)
	}
	cancel()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	release := s.admitClient(w, sess.ID, s.limitKey(r))
	if release == nil {
		return
	}
	conn, ok := s.upgrade(w, r)
	if !ok {
		release()
		return
	}
	// As for agents: the handler returns and the socket lives on.
	s.serveClient(conn, sess.ID, sess.Label, devices, s.logAddr(r), release)
}

// clientReader reads a client's socket (wsread.Handler).
type clientReader struct {
	s       *Server
	c       *clientConn
	release func() // of the client's admission
}

// serveClient starts serving an upgraded client socket of session. The
// socket owns one s.sockets count and calls release when it ends
// (clientReader.End).
func (s *Server) serveClient(conn *batchConn, session, label string, devices []store.Device, addr string, release func()) {
	keepSendQueueShort(conn.raw, clientNotSent)
	c := &clientConn{peer: newPeer(conn, "client", s.cfg.SendQueue, s.cfg.SendQueueBytes, s.m, s.cfg.Heartbeat, s.cfg.WriteTimeout),
		session: session, label: label, devices: map[string]store.Device{}, ids: map[string]bool{}, files: map[string]*transfer{}}
	h := &clientReader{s: s, c: c, release: release}
	rd := c.reader(h, protocol.MaxClientFrame, s.cfg.DeadAfter)
	c.start()
	c.send(encode(&protocol.Message{Type: protocol.TypeWelcome, Data: protocol.MustData(protocol.Welcome{
		SessionID: session, Heartbeat: int(s.cfg.Heartbeat / time.Second), MaxFrame: protocol.MaxClientFrame,
		ServerTime: protocol.Timestamp(s.cfg.Now()),
	})}))
	for _, d := range devices {
		c.devices[d.ID] = d
	}
	if err := s.hub.addClient(c); err != nil {
		c.requestClose(websocket.CloseServiceRestart, "relay restarting")
		<-c.done
		conn.Close()
		release()
		s.sockets.Done()
		return
	}
	s.m.clients.Add(1)
	// Devices paired or unpaired between the read above and addClient
	// never reached this socket: read again now that it is registered.
	s.hub.resync(session)
	s.cfg.Logger.Debug("client connected", "session", session, "addr", addr, "devices", len(devices))
	rd.Start()
}

// Ping answers the client's ping.
func (h *clientReader) Ping(data []byte) { h.c.Ping(data) }

// End ends the client's socket: the hub forgets it, then the relay's
// close frame after what is queued, and the client's answer.
func (h *clientReader) End(err error) {
	s, c := h.s, h.c
	s.cfg.Logger.Debug("client disconnected", "session", c.session, "reason", closeReason(err))
	c.requestClose(closeFor(err))
	s.hub.removeClient(c)
	s.book.seen(c.session, "", s.cfg.Now())
	c.awaitEnd()
	s.m.clients.Add(-1)
	h.release()
	s.sockets.Done()
}

// Message handles one frame from the client; an error ends the socket.
func (h *clientReader) Message(frame []byte, binary bool) error {
	s, c := h.s, h.c
	if err := c.admit(frame, binary, s.cfg.ClientFrameRate, s.cfg.ClientFrameBurst); err != nil {
		return err
	}
	if binary {
		if !s.hub.fileChunk(c, frame) && !c.spend(s.cfg.ClientFrameRate, s.cfg.ClientFrameBurst) {
			return errFlood
		}
		return nil
	}
	msg, err := protocol.Decode(frame)
	if err != nil {
		c.send(errorFrame(protocol.AsError(err)))
		return nil
	}
	switch msg.Type {
	case protocol.TypeCommand:
		s.hub.command(c, msg)
	case protocol.TypeFileBegin:
		s.hub.fileBegin(c, msg)
	case protocol.TypeFileEnd, protocol.TypeFileCancel:
		s.hub.fileControl(c, msg)
	default:
		c.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "clients may only send command and file frames, not %q", msg.Type)))
	}
	return nil
}

func errorFrame(e *protocol.Error) []byte {
	return encode(&protocol.Message{Type: protocol.TypeError, Error: e})
}

// closeReason turns why a socket's reading ended into a short reason for
// the log.
func closeReason(err error) string {
	var ce *wsread.CloseError
	switch {
	case errors.As(err, &ce):
		return "closed by peer: " + ce.Error()
	case errors.Is(err, wsread.ErrTooBig):
		return "frame too large"
	default:
		return err.Error()
	}
}

// clientNotSent is the most bytes a client's socket keeps unsent in the
// kernel (keepSendQueueShort): some dozens of telemetry frames.
const clientNotSent = 16 << 10
