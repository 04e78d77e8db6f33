// Command tether-relay is the relay: it serves the control page, the HTTP API
// and the two WebSockets, and keeps its state in an embedded SQLite store.
//
// Every flag can also be set with an environment variable TETHER_RELAY_<FLAG>
// (upper case, dashes as underscores), e.g. TETHER_RELAY_LISTEN=:8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

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
	storeURL                                                        string // --store: empty means SQLite in --data
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("tether-relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&c.data, "data", "./tether-data", "directory of the embedded store")
	fs.StringVar(&c.storeURL, "store", "", "postgres://… puts durable state in PostgreSQL, shared by a cluster of nodes (default the SQLite file in --data)")
	fs.StringVar(&c.publicURL, "public-url", "", "the URL people open (default http://<listen>)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "certificate file to serve HTTPS/WSS directly")
	fs.StringVar(&c.tlsKey, "tls-key", "", "key file of --tls-cert")
	fs.Var((*listFlag)(&c.allowedOrigins), "allowed-origin", "extra browser origin allowed to open /ws/client (repeatable)")
	fs.StringVar(&c.enrollToken, "enroll-token", "", "when set, registering a device needs Authorization: Bearer <token>")
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
		if f.Name == "allowed-origin" {
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log); err != nil {
		log.Error("relay stopped", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, c config, log *slog.Logger) error {
	if n, err := raiseFileLimit(); err == nil {
		log.Info("open file limit", "limit", n, "connections", n-100)
	} else {
		log.Warn("could not raise the open file limit", "err", err)
	}
	st, err := store.OpenURL(ctx, c.data, c.storeURL)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	key, err := server.LoadOrCreateKey(filepath.Join(c.data, "code.key"))
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store: st, PublicURL: c.publicURL, AllowedOrigins: c.allowedOrigins,
		EnrollToken: c.enrollToken, CodeKey: key, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("relay listening", "addr", ln.Addr().String(), "public_url", c.publicURL, "data", c.data,
		"tls", c.tlsCert != "", "enroll_token", c.enrollToken != "", "version", version)
	err = srv.Run(ctx, ln, c.tlsCert, c.tlsKey)
	log.Info("relay stopped")
	return err
}
