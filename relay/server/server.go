package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/protocol"
	"github.com/tether-desktop/tether/relay/broker"
	"github.com/tether-desktop/tether/relay/store"
	"github.com/tether-desktop/tether/relay/web"
)

// Server is the relay. Create it with New, serve its Handler (or call Run),
// and call Shutdown to stop. Safe for concurrent use.
type Server struct {
	cfg     Config
	hub     *hub
	stopHub chan struct{} // stops the hub's cluster upkeep
	router  Router
	m       *metrics
	mux     *http.ServeMux
	origins map[string]bool // browser origins allowed on /ws/client

	pairIP      *limiter      // pairing attempts by client address (or IPv6 prefix)
	pairFailIP  *limiter      // failed pairing attempts by client address (or IPv6 prefix)
	pairFails   *budget       // failed pairing attempts, relay-wide
	pairFailsCl *clusterFails // failed pairing attempts, cluster-wide (nil on one node)
	pairFailLog *sampledLog   // failed pairing attempts, logged at most every pairFailLogPeriod
	enrollIP    *limiter      // device registrations by client address
	openEnroll  *budget       // device registrations relay-wide, without an enroll token
	codesDev    *limiter      // pairing codes requested by device
	socks       *sockets      // open WebSockets, for the ceilings

	upgrader websocket.Upgrader
	seen     *seenWriter  // devices' last-seen times, written off the socket goroutines
	book     *pairingBook // pairings' names and last-seen times (pairbook.go)

	mu       sync.Mutex
	stopping bool           // Shutdown has begun: no new sockets
	sockets  sync.WaitGroup // one per open WebSocket
}

// track counts a new socket handler, or reports false once Shutdown has
// begun. Callers that got true call s.sockets.Done when they return.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.sockets.Add(1)
	return true
}

// New checks cfg and builds a Server. It does not listen.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.fill()
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	br := cfg.Broker
	if br == nil {
		br = broker.NewBus().Node("local")
	}
	s := &Server{
		cfg:        cfg,
		m:          m,
		hub:        newHub(cfg, m, br),
		stopHub:    make(chan struct{}),
		origins:    map[string]bool{origin(cfg.PublicURL): true},
		pairIP:     newLimiter(cfg.PairRate, cfg.PairBurst, 100_000),
		pairFails:  newBudget(cfg.PairFailRate, cfg.PairFailBurst),
		pairFailIP: newLimiter(cfg.PairFailAddrRate, cfg.PairFailAddrBurst, 100_000),
		enrollIP:   newLimiter(1.0/60, 20, 100_000),
		openEnroll: newBudget(cfg.OpenRegisterRate, cfg.OpenRegisterBurst),
		codesDev:   newLimiter(1.0/6, 10, 100_000),
		socks:      newSockets(),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			// Only the handshake is gorilla's: its Conn is let go after
			// it (wsread reads, batchConn.writeFrame writes), so its
			// buffers are the smallest it allows, from a pool, rather
			// than net/http's 4 KB ones it would otherwise keep.
			ReadBufferSize:  1,
			WriteBufferSize: 1024,
			WriteBufferPool: &sync.Pool{},
			// Origins are checked before the upgrade, where the kind of
			// credential (cookie or bearer) is known.
			CheckOrigin: func(*http.Request) bool { return true },
			Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
				writeError(w, status, protocol.CodeBadRequest, "WebSocket handshake: "+reason.Error())
			},
		},
	}
	s.router = s.hub
	s.pairFailLog = &sampledLog{period: pairFailLogPeriod, log: func(count int, last string) {
		cfg.Logger.Warn("failed pairing attempts", "count", count, "last_addr", last)
	}}
	s.seen = newSeenWriter(cfg.Store, cfg.Logger)
	s.book = newPairingBook(cfg.Store, cfg.Logger)
	s.hub.book = s.book
	for _, o := range cfg.AllowedOrigins {
		s.origins[origin(o)] = true
	}
	s.routes()
	s.shareClock()
	if cfg.Broker != nil {
		s.pairFailsCl = newClusterFails(cfg.Store, cfg.PairFailRate, cfg.PairFailBurst)
		m.brokerDropped = br.Dropped
		if err := br.Start(s.hub.onEvent, s.hub.seq.Load); err != nil {
			return nil, fmt.Errorf("start the broker: %w", err)
		}
		go s.hub.runCluster(s.stopHub)
	}
	return s, nil
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	page := web.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /pair", page)
	mux.Handle("GET /pair/qr.svg", web.PairQR(s.cfg.PublicURL))
	mux.Handle("GET /static/", page)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	if !s.cfg.PrivateMetrics {
		mux.Handle("GET /metrics", s.m)
	}
	// The API and the sockets, by path, so that a wrong method gets a JSON 405
	// like every other error (the mux's own 405 is plain text).
	api := []struct {
		path    string
		methods map[string]http.HandlerFunc
	}{
		{"/api/v1/devices", map[string]http.HandlerFunc{"POST": s.registerDevice, "GET": s.listDevices}},
		{"/api/v1/device", map[string]http.HandlerFunc{"GET": s.deviceSelf}},
		{"/api/v1/pairing-codes", map[string]http.HandlerFunc{"POST": s.createPairingCode}},
		{"/api/v1/device/pairings", map[string]http.HandlerFunc{"GET": s.listPairings, "DELETE": s.unpairAll}},
		{"/api/v1/device/pairings/{id}", map[string]http.HandlerFunc{"DELETE": s.unpairOne}},
		{"/api/v1/pairings", map[string]http.HandlerFunc{"POST": s.pair}},
		{"/api/v1/pairings/{device_id}", map[string]http.HandlerFunc{"DELETE": s.unpair}},
		{"/ws/agent", map[string]http.HandlerFunc{"GET": s.agentSocket}},
		{"/ws/client", map[string]http.HandlerFunc{"GET": s.clientSocket}},
	}
	for _, route := range api {
		allow := make([]string, 0, len(route.methods))
		for method, h := range route.methods {
			mux.HandleFunc(method+" "+route.path, h)
			allow = append(allow, method)
		}
		slices.Sort(allow)
		mux.HandleFunc(route.path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, protocol.CodeBadRequest, r.Method+" is not allowed here")
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such path: "+r.URL.Path)
	})
	s.mux = mux
}

// Handler returns the relay's HTTP handler, with security headers on every
// response. Every request gets a read deadline (RequestTimeout: the body
// must arrive by then) and a write deadline (WriteTimeout after that); a
// WebSocket's own deadlines replace them once it is upgraded.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		start := time.Now()
		rc.SetReadDeadline(start.Add(s.cfg.RequestTimeout))
		rc.SetWriteDeadline(start.Add(s.cfg.RequestTimeout + s.cfg.WriteTimeout))
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		s.mux.ServeHTTP(w, r)
	})
}

// Run serves on ln until ctx ends, then shuts down gracefully: every socket
// gets a close frame with 1012 and every pending command its result. TLS is
// used when certFile and keyFile are set. It blocks; it returns nil after a
// clean shutdown.
func (s *Server) Run(ctx context.Context, ln net.Listener, certFile, keyFile string) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(10*time.Second, s.cfg.RequestTimeout),
		ReadTimeout:       s.cfg.RequestTimeout,
		WriteTimeout:      s.cfg.RequestTimeout + s.cfg.WriteTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	if s.cfg.EnrollToken == "" {
		s.cfg.Logger.Warn("open registration: anyone who reaches this relay can register devices (set --enroll-token to require a token)",
			"registrations_at_once", s.cfg.OpenRegisterBurst, "then_per_hour", int(s.cfg.OpenRegisterRate*3600))
	}
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	go s.sweep(ctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	s.Shutdown(shutdownCtx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// seenFlushBound is how long Shutdown waits, at most, for the last-seen
// times of the devices that just went offline to reach the store.
const seenFlushBound = 3 * time.Second

// Shutdown closes every WebSocket with 1012 (service restart), answers
// pending commands, and waits for the socket handlers to finish or ctx to
// end; then it waits (at most seenFlushBound more, and never past ctx) for
// the devices' and pairings' last-seen times to be written. It blocks; safe
// to call once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.stopping
	s.stopping = true
	s.mu.Unlock()
	if first {
		close(s.stopHub)
	}
	s.hub.shutdown()
	done := make(chan struct{})
	go func() { s.sockets.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	fctx, cancel := context.WithTimeout(ctx, seenFlushBound)
	defer cancel()
	s.seen.close(fctx)
	s.book.close(fctx)
	return err
}

// seenWriter writes devices' last-seen times (and their name and OS from
// hello) to the store off the socket goroutines, so that thousands of
// agents connecting or leaving at once never wait on the store one by one
// (a batchWriter keyed by device id). Safe for concurrent use.
type seenWriter struct {
	*batchWriter[string, deviceSeen]
}

// deviceSeen is one device's last-seen record.
type deviceSeen struct {
	name, os string
	at       time.Time
}

func newSeenWriter(st store.Store, log *slog.Logger) *seenWriter {
	return &seenWriter{newBatchWriter(log, "last-seen times of devices",
		func(d deviceSeen) time.Time { return d.at },
		func(ctx context.Context, id string, d deviceSeen) error {
			return st.TouchDevice(ctx, id, d.name, d.os, d.at)
		})}
}

// record queues device id's last-seen time, replacing an older one not yet
// written. It never blocks on the store.
func (w *seenWriter) record(id, name, os string, at time.Time) {
	w.put(id, deviceSeen{name: name, os: os, at: at})
}

// pairFailLogPeriod is the least time between two log lines about failed
// pairing attempts.
const pairFailLogPeriod = 10 * time.Second

// sweep deletes, until ctx ends, expired pairing codes and attempt counts
// every minute, and every hour (and at start: a relay restarted within the
// hour still sweeps) the devices that never connected and the sessions
// unused for store.SessionIdleTTL.
func (s *Server) sweep(ctx context.Context) {
	codes := time.NewTicker(time.Minute)
	defer codes.Stop()
	hourly := time.NewTicker(time.Hour)
	defer hourly.Stop()
	s.sweepNeverConnected(ctx)
	s.sweepIdleSessions(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-codes.C:
			now := s.cfg.Now()
			if n, err := s.cfg.Store.DeleteExpiredCodes(ctx, now); err != nil {
				s.cfg.Logger.Warn("delete expired pairing codes", "err", err)
			} else if n > 0 {
				s.cfg.Logger.Debug("deleted expired pairing codes", "count", n)
			}
			if _, err := s.cfg.Store.DeletePairingAttempts(ctx, now); err != nil {
				s.cfg.Logger.Warn("delete pairing attempt counts", "err", err)
			}
		case <-hourly.C:
			s.sweepNeverConnected(ctx)
			s.sweepIdleSessions(ctx)
		}
	}
}

// sweepNeverConnected deletes the devices that registered more than
// NeverConnectedTTL ago and never connected. It blocks on the store.
func (s *Server) sweepNeverConnected(ctx context.Context) (int, error) {
	n, err := s.cfg.Store.DeleteNeverConnectedDevices(ctx, s.cfg.Now().Add(-s.cfg.NeverConnectedTTL))
	if err != nil {
		s.cfg.Logger.Warn("delete devices that never connected", "err", err)
		return 0, fmt.Errorf("delete devices that never connected: %w", err)
	}
	if n > 0 {
		s.cfg.Logger.Info("deleted devices that never connected", "count", n, "older_than", s.cfg.NeverConnectedTTL)
	}
	return n, nil
}

// MetricsHandler returns the handler of /metrics alone, for a listener of
// its own (see Config.PrivateMetrics). Safe for concurrent use.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.m)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "only /metrics is served here")
	})
	return mux
}
