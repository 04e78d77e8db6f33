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
)

// upgrade counts a socket, refusing with 503 once shutdown has begun, and
// upgrades the request with a read limit over a batchConn. On success the
// caller must call s.sockets.Done when the socket ends; on failure the answer
// is written.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, readLimit int64) (*websocket.Conn, bool) {
	if !s.track() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "the relay is restarting")
		return nil, false
	}
	conn, err := s.upgrader.Upgrade(batchHijacker{w}, r, nil)
	if err != nil {
		s.sockets.Done()
		return nil, false // the upgrader has answered
	}
	conn.SetReadLimit(readLimit)
	return conn, true
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
	conn, ok := s.upgrade(w, r, protocol.MaxAgentFrame)
	if !ok {
		release()
		return
	}
	// The socket lives on in its own goroutine and this handler returns, so
	// net/http lets go of the connection's request, context and 8 KB of
	// bufio buffers: an idle socket holds only what it needs.
	go s.serveAgent(conn, d, s.logAddr(r), release)
}

// serveAgent runs an upgraded agent socket until it ends. It owns one
// s.sockets count and calls release when it ends.
func (s *Server) serveAgent(conn *websocket.Conn, d store.Device, addr string, release func()) {
	defer s.sockets.Done()
	defer release()
	a := &agentConn{peer: newPeer(conn, "agent", s.cfg.SendQueue, s.cfg.SendQueueBytes, s.m, s.cfg.Heartbeat, s.cfg.WriteTimeout), device: d, pending: map[string]*pending{}, watchers: -1, files: map[string]*transfer{}}
	log := s.cfg.Logger.With("device", d.ID)
	if err := s.hub.addAgent(a); err != nil {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, "relay restarting"), time.Now().Add(time.Second))
		conn.Close()
		return
	}
	s.m.agents.Add(1)
	defer s.m.agents.Add(-1)
	a.start()
	a.keepAlive(s.cfg.DeadAfter, s.cfg.WriteTimeout)
	var helloed atomic.Bool
	noHello := time.AfterFunc(s.cfg.HelloTimeout, func() {
		if !helloed.Load() {
			s.m.close("no_hello")
			a.requestClose(websocket.ClosePolicyViolation, "no hello in time")
		}
	})
	defer noHello.Stop()
	a.send(encode(&protocol.Message{Type: protocol.TypeWelcome, Data: protocol.MustData(protocol.Welcome{
		DeviceID: d.ID, Heartbeat: int(s.cfg.Heartbeat / time.Second), MaxFrame: protocol.MaxAgentFrame,
		ServerTime: protocol.Timestamp(s.cfg.Now()),
	})}))
	log.Info("agent connected", "addr", addr)

	reason := s.readAgent(a, &helloed)
	a.requestClose(websocket.CloseNormalClosure, "")
	<-a.done
	a.drain()
	conn.Close()
	now := s.cfg.Now()
	s.hub.removeAgent(a, now)
	if a.hello != nil {
		s.seen.record(d.ID, a.device.Name, a.device.OS, now) // written by s.seen, not here
	}
	log.Info("agent disconnected", "reason", reason)
}

// readAgent reads an agent's frames until the socket ends and says why.
func (s *Server) readAgent(a *agentConn, helloed *atomic.Bool) string {
	for {
		frame, binary, err := a.read(s.cfg.DeadAfter, s.cfg.AgentFrameRate, s.cfg.AgentFrameBurst)
		if err != nil {
			return closeReason(err)
		}
		if binary { // agents send no binary frames
			if !a.spend(s.cfg.AgentFrameRate, s.cfg.AgentFrameBurst) {
				return closeReason(errFlood)
			}
			a.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "agents may not send binary frames")))
			continue
		}
		if helloed.Load() && s.forwardData(a, frame) {
			continue
		}
		msg, err := protocol.Decode(frame)
		if err != nil {
			a.send(errorFrame(protocol.AsError(err)))
			continue
		}
		if !helloed.Load() && msg.Type != protocol.TypeHello {
			a.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "the first frame must be hello")))
			continue
		}
		switch msg.Type {
		case protocol.TypeHello:
			hello, err := decodeHello(msg.Data)
			if err != nil {
				a.send(errorFrame(err))
				continue
			}
			if !helloed.Load() {
				s.seen.record(a.device.ID, hello.Name, hello.OS, s.cfg.Now())
			}
			helloed.Store(true)
			s.hub.agentHello(a, hello)
		case protocol.TypeTelemetry, protocol.TypeEvent:
			s.hub.agentData(a, msg)
		case protocol.TypeResult:
			s.hub.agentResult(a, msg)
		case protocol.TypeFileAck:
			if !s.hub.agentFileAck(a, msg) && bytes.HasPrefix(frame, fileAckPrefix) && !a.spend(s.cfg.AgentFrameRate, s.cfg.AgentFrameBurst) {
				return closeReason(errFlood)
			}
		default:
			a.send(errorFrame(protocol.Errorf(protocol.CodeBadRequest, "agents may not send %q frames", msg.Type)))
		}
	}
}

// forwardData forwards frame to a's watchers as it came, and reports
// whether it did: telemetry and events in the agent's own shape, speaking
// for a's device (or none; device and ts are added when missing), whose
// envelope alone is read (protocol.ReadEnvelope). For every other frame it
// reports false, and the caller decodes it in full.
//
// It is kept out of readAgent (go:noinline) so that its locals do not
// enlarge readAgent's frame, which sits on every idle agent's parked stack.
//
//go:noinline
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
	cancel()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	release := s.admitClient(w, sess.ID, s.limitKey(r))
	if release == nil {
		return
	}
	conn, ok := s.upgrade(w, r, protocol.MaxClientFrame)
	if !ok {
		release()
		return
	}
	// As for agents: the handler returns and the socket lives on.
	go s.serveClient(conn, sess.ID, sess.Label, devices, s.logAddr(r), release)
}

// serveClient runs an upgraded client socket of session until it ends. It
// owns one s.sockets count and calls release when it ends.
func (s *Server) serveClient(conn *websocket.Conn, session, label string, devices []store.Device, addr string, release func()) {
	defer s.sockets.Done()
	defer release()
	c := &clientConn{peer: newPeer(conn, "client", s.cfg.SendQueue, s.cfg.SendQueueBytes, s.m, s.cfg.Heartbeat, s.cfg.WriteTimeout),
		session: session, label: label, devices: map[string]store.Device{}, ids: map[string]bool{}, files: map[string]*transfer{}}
	c.start()
	c.keepAlive(s.cfg.DeadAfter, s.cfg.WriteTimeout)
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
		return
	}
	s.m.clients.Add(1)
	defer s.m.clients.Add(-1)
	// Devices paired or unpaired between the read above and addClient
	// never reached this socket: read again now that it is registered.
	s.hub.resync(session)
	log := s.cfg.Logger.With("session", session)
	log.Debug("client connected", "addr", addr, "devices", len(devices))

	reason := s.readClient(c)
	log.Debug("client disconnected", "reason", reason)
	c.requestClose(websocket.CloseNormalClosure, "")
	s.hub.removeClient(c)
	s.book.seen(session, "", s.cfg.Now())
	<-c.done
	c.drain()
	conn.Close()
}

// readClient reads a client's frames until the socket ends and says why.
func (s *Server) readClient(c *clientConn) string {
	for {
		frame, binary, err := c.read(s.cfg.DeadAfter, s.cfg.ClientFrameRate, s.cfg.ClientFrameBurst)
		if err != nil {
			return closeReason(err)
		}
		if binary {
			if !s.hub.fileChunk(c, frame) && !c.spend(s.cfg.ClientFrameRate, s.cfg.ClientFrameBurst) {
				return closeReason(errFlood)
			}
			continue
		}
		msg, err := protocol.Decode(frame)
		if err != nil {
			c.send(errorFrame(protocol.AsError(err)))
			continue
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
	}
}

func errorFrame(e *protocol.Error) []byte {
	return encode(&protocol.Message{Type: protocol.TypeError, Error: e})
}

// closeReason turns a read error into a short reason for the log.
func closeReason(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return "closed by peer: " + ce.Error()
	case errors.Is(err, websocket.ErrReadLimit):
		return "frame too large"
	default:
		return err.Error()
	}
}
