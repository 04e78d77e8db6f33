// Package control is the local control channel of a running agent: the agent
// serves it (Listen, Serve) and the command line and the tray ask it for the
// agent's status or tell it to stop (Status, Stop).
//
// On Linux and macOS the channel is a Unix socket in the config directory,
// mode 0600: only its owner can connect. On Windows it is a loopback TCP
// port named, with a random token, in control.json in the config directory
// (which only its owner can read): a request without that token is refused.
// (Wine 8, where the Windows build is tested, has no AF_UNIX sockets.)
//
// One request and one answer per connection, each one line of JSON:
//
//	{"op":"status","token":"…"}  ->  {"ok":true,"pid":1234,"status":{…}}
//	{"op":"stop","token":"…"}    ->  {"ok":true,"pid":1234}   (then the agent stops)
//
// An unknown op or a wrong token gets {"ok":false,"error":"…"}.
package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// ErrNotRunning means nothing serves the control channel of that config
// directory: no agent runs there (or one too old to have the channel).
var ErrNotRunning = errors.New("no agent answers on the control channel")

// Ops the channel serves.
const (
	OpStatus = "status"
	OpStop   = "stop"
)

// maxLine bounds one request or answer.
const maxLine = 1 << 20

// ioTimeout bounds how long one connection may take on the server side.
const ioTimeout = 10 * time.Second

// Handlers are what the server calls. Both are called from the server's
// goroutines, possibly concurrently, and must be safe for that.
type Handlers struct {
	// Status returns what a status request answers (JSON-encoded).
	Status func() any
	// Stop asks the agent to stop; it must not block until it has.
	Stop func()
}

type request struct {
	Op    string `json:"op"`
	Token string `json:"token,omitempty"`
}

// Answer is the server's reply to one request.
type Answer struct {
	OK     bool            `json:"ok"`
	PID    int             `json:"pid,omitempty"`
	Status json.RawMessage `json:"status,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Server serves the control channel of one config directory. Its methods
// are safe for concurrent use.
type Server struct {
	ln    net.Listener
	token string // what requests must carry ("" on Unix: the socket's mode guards it)
	h     Handlers

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // the requests in progress
}

// Listen opens the control channel of configDir, which must exist. It fails
// when another agent already answers there; a stale socket left by an agent
// that died is replaced. It does not block.
func Listen(configDir string, h Handlers) (*Server, error) {
	ln, token, err := listen(configDir)
	if err != nil {
		return nil, fmt.Errorf("control channel in %s: %w", configDir, err)
	}
	return &Server{ln: ln, token: token, h: h}, nil
}

// Serve answers requests until Close; it blocks and returns nil after Close.
func (s *Server) Serve() error {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("control channel: accept: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return nil
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() { // owned by s: Close waits for it
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

// Close stops Serve, waits for the requests in progress and removes the
// channel. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	was := s.closed
	s.closed = true
	s.mu.Unlock()
	var err error
	if !was {
		err = s.ln.Close()
	}
	s.wg.Wait()
	return err
}

func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(ioTimeout))
	var req request
	ans := Answer{PID: os.Getpid()}
	stop := false
	switch err := json.NewDecoder(io.LimitReader(conn, maxLine)).Decode(&req); {
	case err != nil:
		ans.Error = fmt.Sprintf("bad request: %v", err)
	case subtle.ConstantTimeCompare([]byte(req.Token), []byte(s.token)) != 1:
		ans.Error = "wrong token"
	case req.Op == OpStatus && s.h.Status != nil:
		b, err := json.Marshal(s.h.Status())
		if err != nil {
			ans.Error = fmt.Sprintf("encode status: %v", err)
			break
		}
		ans.OK, ans.Status = true, b
	case req.Op == OpStop && s.h.Stop != nil:
		ans.OK, stop = true, true
	default:
		ans.Error = fmt.Sprintf("unknown op %q", req.Op)
	}
	b, _ := json.Marshal(ans)
	conn.Write(append(b, '\n'))
	if stop {
		s.h.Stop()
	}
}

// Status asks the agent of configDir for its status and decodes it into v
// (may be nil). It returns the agent's process id, or ErrNotRunning when
// nothing answers. It blocks at most until ctx ends.
func Status(ctx context.Context, configDir string, v any) (pid int, err error) {
	ans, err := call(ctx, configDir, OpStatus)
	if err != nil {
		return 0, err
	}
	if v != nil {
		if err := json.Unmarshal(ans.Status, v); err != nil {
			return ans.PID, fmt.Errorf("control channel: decode status: %w", err)
		}
	}
	return ans.PID, nil
}

// Stop tells the agent of configDir to stop and waits until its channel no
// longer answers (the agent has stopped serving) or ctx ends. It returns the
// agent's process id, or ErrNotRunning when nothing answered.
func Stop(ctx context.Context, configDir string) (pid int, err error) {
	ans, err := call(ctx, configDir, OpStop)
	if err != nil {
		return 0, err
	}
	for {
		if _, err := call(ctx, configDir, OpStatus); errors.Is(err, ErrNotRunning) {
			return ans.PID, nil
		} else if ctx.Err() != nil {
			return ans.PID, fmt.Errorf("agent (process %d) was told to stop but still answers: %w", ans.PID, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func call(ctx context.Context, configDir, op string) (Answer, error) {
	var ans Answer
	conn, token, err := dial(ctx, configDir)
	if err != nil {
		return ans, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stopWatch := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopWatch()
	b, _ := json.Marshal(request{Op: op, Token: token})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return ans, fmt.Errorf("control channel: send %s: %w", op, err)
	}
	if err := json.NewDecoder(io.LimitReader(conn, maxLine)).Decode(&ans); err != nil {
		return ans, fmt.Errorf("control channel: read answer to %s: %w", op, err)
	}
	if !ans.OK {
		return ans, fmt.Errorf("control channel: %s: %s", op, ans.Error)
	}
	return ans, nil
}
