// Command tether-relay is the relay: it serves the control page, the HTTP API
// and the two WebSockets, and keeps its state in an embedded SQLite store.
//
// Every flag can also be set with an environment variable TETHER_RELAY_<FLAG>
// (upper case, dashes as underscores), e.g. TETHER_RELAY_LISTEN=:8080.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tether-desktop/tether/relay/broker"
	"github.com/tether-desktop/tether/relay/server"
	"github.com/tether-desktop/tether/relay/store"
)

// Set with -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var version, commit, date = "dev", "unknown", "unknown"

// config is the command line, parsed.
type config struct {
	listen, data, publicURL, tlsCert, tlsKey, enrollToken, logLevel string
	allowedOrigins                                                  []string
	showVersion                                                     bool
	storeURL                                                        string   // --store: empty means SQLite in --data
	natsURLs                                                        []string // --nats: empty means one node

	metricsListen     string         // where /metrics is served; "" keeps it on --listen
	trustedProxies    []netip.Prefix // from --trusted-proxy
	ipv6Prefix        int
	liveCodes         int
	socketsPerSession int
	socketsPerAddress int
	trustedProxyRaw   []string
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// parse reads the command line and the TETHER_RELAY_* environment into a
// config. It is long on purpose: one line per flag, the whole command line
// in one place.
func parse(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("tether-relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&c.data, "data", "./tether-data", "directory of the embedded store")
	fs.StringVar(&c.storeURL, "store", "", "postgres://… puts durable state in PostgreSQL, shared by a cluster of nodes (default the SQLite file in --data)")
	fs.Var((*listFlag)(&c.natsURLs), "nats", "nats://… (repeatable, or comma-separated): routes live frames between relay nodes sharing --store (default none: one node)")
	fs.StringVar(&c.publicURL, "public-url", "", "the URL people open (default http://<listen>)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "certificate file to serve HTTPS/WSS directly")
	fs.StringVar(&c.tlsKey, "tls-key", "", "key file of --tls-cert")
	fs.Var((*listFlag)(&c.allowedOrigins), "allowed-origin", "extra browser origin allowed to open /ws/client (repeatable)")
	fs.StringVar(&c.enrollToken, "enroll-token", "", "when set, registering a device needs Authorization: Bearer <token>")
	fs.Var((*listFlag)(&c.trustedProxyRaw), "trusted-proxy", "CIDR of a reverse proxy whose X-Forwarded-For is believed (repeatable)")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "address to serve /metrics on, alone; when set, /metrics is not on --listen")
	fs.IntVar(&c.ipv6Prefix, "ipv6-prefix", 64, "leading bits of an IPv6 client address that per-address limits count as one client")
	fs.IntVar(&c.liveCodes, "live-codes", 100, "most pairing codes expected valid at once; sizes the relay-wide budget of failed pairings")
	fs.IntVar(&c.socketsPerSession, "client-sockets-per-session", 16, "open /ws/client sockets one session may hold")
	fs.IntVar(&c.socketsPerAddress, "client-sockets-per-address", 64, "open /ws/client sockets one client address (IPv6: prefix) may hold")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&c.showVersion, "version", false, "print the version and exit")
	// Environment first, so flags on the command line win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "TETHER_RELAY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(name)
		if v == "" {
			return
		}
		parts := []string{v}
		if f.Name == "allowed-origin" || f.Name == "trusted-proxy" || f.Name == "nats" {
			parts = strings.Split(v, ",")
		}
		for _, p := range parts {
			if err := fs.Set(f.Name, strings.TrimSpace(p)); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.trustedProxies, err = server.ParseTrustedProxies(c.trustedProxyRaw); err != nil {
		return c, fmt.Errorf("--trusted-proxy: %w", err)
	}
	if c.ipv6Prefix < 1 || c.ipv6Prefix > 128 {
		return c, fmt.Errorf("--ipv6-prefix %d: must be 1 to 128", c.ipv6Prefix)
	}
	if c.liveCodes < 1 || c.socketsPerSession < 1 || c.socketsPerAddress < 1 {
		return c, errors.New("--live-codes, --client-sockets-per-session and --client-sockets-per-address must be at least 1")
	}
	for _, u := range c.natsURLs {
		if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			return c, fmt.Errorf("--nats %q: must be a nats:// or tls:// URL", u)
		}
	}
	if len(c.natsURLs) > 0 && c.storeURL == "" {
		return c, errors.New("--nats needs --store postgres://…: the nodes of a cluster share their durable state")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("--tls-cert and --tls-key go together")
	}
	if c.publicURL == "" {
		scheme := "http"
		if c.tlsCert != "" {
			scheme = "https"
		}
		c.publicURL = scheme + "://" + c.listen
	}
	return c, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c, err := parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "tether-relay:", err)
		return 2
	}
	if c.showVersion {
		fmt.Fprintf(stdout, "tether-relay %s (commit %s, built %s)\n", version, commit, date)
		return 0
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		fmt.Fprintln(stderr, "tether-relay: --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	tuneGC(getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log); err != nil {
		log.Error("relay stopped", "err", err)
		return 1
	}
	return 0
}

// socketCeiling is the most WebSockets the relay holds with a file limit
// of n: room is kept for HTTP requests, the store and the listeners.
func socketCeiling(n uint64) int {
	if n > 2048 {
		return int(n - 1024)
	}
	return int(n / 2)
}

// codeKey returns the key pairing codes are hashed with: the file
// code.key in --data for the embedded store (made at the first start). With
// PostgreSQL that file wins when it exists (the operator gave every node
// the same file, kept out of the database); without it the key is kept in
// the store itself, made once, so that every node of a cluster checks the
// codes any node showed.
func codeKey(ctx context.Context, c config, st store.Store, log *slog.Logger) ([]byte, error) {
	file := filepath.Join(c.data, "code.key")
	if c.storeURL == "" {
		return server.LoadOrCreateKey(file)
	}
	if _, err := os.Stat(file); err == nil {
		log.Info("pairing codes hashed with the key file; every node needs the same file", "file", file)
		return server.LoadOrCreateKey(file)
	}
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	key, err := st.SharedKey(kctx, "pairing-code")
	if err != nil {
		return nil, fmt.Errorf("read the shared pairing-code key from the store: %w", err)
	}
	return key, nil
}

// nodeID names this process in a cluster: the host name and a random part,
// so that a restarted node is a new one.
func nodeID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, host)
	if len(host) > 40 {
		host = host[:40]
	}
	var b [4]byte
	rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// serve opens what the relay needs (file limit, store, broker, listeners)
// and runs it until ctx ends. It is the relay's start-up in order, kept in
// one piece so that it reads as that sequence.
func serve(ctx context.Context, c config, log *slog.Logger) error {
	maxSockets := 0
	if n, err := raiseFileLimit(); err == nil {
		maxSockets = socketCeiling(n)
		log.Info("open file limit", "limit", n, "sockets", maxSockets, "client_sockets", maxSockets/2)
	} else {
		log.Warn("could not raise the open file limit", "err", err)
	}
	st, err := store.OpenURL(ctx, c.data, c.storeURL)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	key, err := codeKey(ctx, c, st, log)
	if err != nil {
		return err
	}
	var br broker.Broker
	if len(c.natsURLs) > 0 {
		node := nodeID()
		nb, err := broker.ConnectNATS(c.natsURLs, node, log)
		if err != nil {
			return err
		}
		defer nb.Close() // after Run: the node's last presence goes out first
		br = nb
		log.Info("cluster node", "node", node, "nats", strings.Join(c.natsURLs, ","))
	}
	srv, err := server.New(server.Config{
		Store: st, PublicURL: c.publicURL, AllowedOrigins: c.allowedOrigins, Broker: br,
		EnrollToken: c.enrollToken, CodeKey: key, Logger: log,
		TrustedProxies: c.trustedProxies, IPv6Prefix: c.ipv6Prefix, LiveCodes: c.liveCodes,
		ClientSocketsPerSession: c.socketsPerSession, ClientSocketsPerAddress: c.socketsPerAddress,
		MaxSockets: maxSockets, PrivateMetrics: c.metricsListen != "",
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if c.metricsListen != "" {
		mln, err := net.Listen("tcp", c.metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics: %w", err)
		}
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 20 * time.Second, IdleTimeout: time.Minute}
		go ms.Serve(mln)
		defer ms.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	} else {
		log.Warn("/metrics is served on the public listener; use --metrics-listen to serve it privately")
	}
	log.Info("relay listening", "addr", ln.Addr().String(), "public_url", c.publicURL, "data", c.data,
		"tls", c.tlsCert != "", "enroll_token", c.enrollToken != "", "trusted_proxies", len(c.trustedProxies), "version", version)
	err = srv.Run(ctx, ln, c.tlsCert, c.tlsKey)
	log.Info("relay stopped")
	return err
}
