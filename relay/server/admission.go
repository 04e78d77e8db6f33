package server

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/tether-desktop/tether/protocol"
)

// sockets counts open WebSockets for the relay's ceilings: client sockets
// per session and per client address, client sockets in all, and every
// socket in all. Safe for concurrent use.
type sockets struct {
	mu        sync.Mutex
	bySession map[string]int
	byAddr    map[string]int
	clients   int
	all       int
}

func newSockets() *sockets {
	return &sockets{bySession: map[string]int{}, byAddr: map[string]int{}}
}

// Retry-After of a refused socket: a socket of the same session or address
// may close any moment; the relay's ceiling takes longer to clear.
const (
	retrySocket = 10
	retryRelay  = 30
)

// admitClient counts a new client socket of session from addr (a limit
// key), or refuses it: it answers 429 (the session's or address's sockets)
// or 503 (the relay's ceiling) itself and returns nil. On success the
// caller calls the returned func exactly once when the socket ends.
func (s *Server) admitClient(w http.ResponseWriter, session, addr string) func() {
	c := s.socks
	c.mu.Lock()
	refuse := ""
	switch {
	case c.bySession[session] >= s.cfg.ClientSocketsPerSession:
		refuse = refuseSocketSession
	case c.byAddr[addr] >= s.cfg.ClientSocketsPerAddress:
		refuse = refuseSocketAddr
	case c.clients >= s.cfg.MaxClientSockets:
		refuse = refuseSocketsClients
	case c.all >= s.cfg.MaxSockets:
		refuse = refuseSocketsAll
	default:
		c.bySession[session]++
		c.byAddr[addr]++
		c.clients++
		c.all++
	}
	c.mu.Unlock()
	if refuse != "" {
		s.refuseSocket(w, refuse)
		return nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.bySession[session]--; c.bySession[session] <= 0 {
				delete(c.bySession, session)
			}
			if c.byAddr[addr]--; c.byAddr[addr] <= 0 {
				delete(c.byAddr, addr)
			}
			c.clients--
			c.all--
		})
	}
}

// admitAgent counts a new agent socket, or answers 503 itself and returns
// nil when the relay's ceiling is reached. Agents may use the room that
// MaxClientSockets keeps from clients.
func (s *Server) admitAgent(w http.ResponseWriter) func() {
	c := s.socks
	c.mu.Lock()
	full := c.all >= s.cfg.MaxSockets
	if !full {
		c.all++
	}
	c.mu.Unlock()
	if full {
		s.refuseSocket(w, refuseSocketsAll)
		return nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.all--
			c.mu.Unlock()
		})
	}
}

// refuseSocket answers a socket refused by limit and counts it.
func (s *Server) refuseSocket(w http.ResponseWriter, limit string) {
	s.m.refuse(limit)
	switch limit {
	case refuseSocketSession:
		w.Header().Set("Retry-After", strconv.Itoa(retrySocket))
		writeError(w, http.StatusTooManyRequests, protocol.CodeRateLimited,
			"this session has "+strconv.Itoa(s.cfg.ClientSocketsPerSession)+" sockets open already; close one first")
	case refuseSocketAddr:
		w.Header().Set("Retry-After", strconv.Itoa(retrySocket))
		writeError(w, http.StatusTooManyRequests, protocol.CodeRateLimited,
			"this address has "+strconv.Itoa(s.cfg.ClientSocketsPerAddress)+" sockets open already; close one first")
	default:
		w.Header().Set("Retry-After", strconv.Itoa(retryRelay))
		writeError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "the relay is at its connection ceiling; try again later")
	}
}
