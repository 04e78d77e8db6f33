package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The Debian programs the cluster bench runs.
var (
	natsServerBin = "/usr/sbin/nats-server"
	postgresDir   = "/usr/lib/postgresql/15/bin"
)

// pgServer is a PostgreSQL 15 server of the cluster bench's own, on
// 127.0.0.1, trust authentication. PostgreSQL refuses to run as root, so as
// root every server program runs as the postgres user in a directory it owns.
type pgServer struct {
	dir  string
	port int
	su   bool
}

// pgRun runs a PostgreSQL program (as the postgres user when this is root),
// bounded by 60 s.
func (s *pgServer) run(ctx context.Context, prog string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	argv := append([]string{filepath.Join(postgresDir, prog)}, args...)
	var cmd *exec.Cmd
	if s.su {
		q := make([]string, len(argv))
		for i, a := range argv {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		cmd = exec.CommandContext(ctx, "su", "postgres", "-s", "/bin/sh", "-c", strings.Join(q, " "))
	} else {
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", prog, err, out)
	}
	return nil
}

// startPostgres makes a data directory under dir and starts a server on a
// free port with one database, tether.
func startPostgres(ctx context.Context, dir string) (*pgServer, error) {
	if _, err := os.Stat(filepath.Join(postgresDir, "postgres")); err != nil {
		return nil, fmt.Errorf("PostgreSQL 15 is not installed (scripts/setup --test): %w", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	_, p, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(p)
	s := &pgServer{dir: filepath.Join(dir, "postgres"), port: port, su: os.Geteuid() == 0}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	if s.su {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chmod(dir, 0o755)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if err := s.run(ctx, "initdb", "-D", filepath.Join(s.dir, "data"), "--auth=trust", "-U", "postgres"); err != nil {
		return nil, err
	}
	if err := s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-l", filepath.Join(s.dir, "log"), "-w",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300", port, s.dir), "start"); err != nil {
		return nil, err
	}
	if err := s.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "tether"); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *pgServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/tether?sslmode=disable", s.port)
}

// stop stops the server (fast shutdown) and waits for it.
func (s *pgServer) stop() {
	s.run(context.Background(), "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
}

// natsServer is nats-server with its monitoring port (for /varz).
type natsServer struct {
	p           *process
	addr, mAddr string
}

func startNATS(ctx context.Context) (*natsServer, error) {
	if _, err := os.Stat(natsServerBin); err != nil {
		return nil, fmt.Errorf("nats-server is not installed (scripts/setup --test): %w", err)
	}
	a, err := freePort()
	if err != nil {
		return nil, err
	}
	m, err := freePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := strings.Cut(a, ":")
	_, mport, _ := strings.Cut(m, ":")
	p, _, err := startProcess(ctx, "nats-server", "", nil, natsServerBin, "-a", "127.0.0.1", "-p", port, "-m", mport)
	if err != nil {
		return nil, err
	}
	n := &natsServer{p: p, addr: a, mAddr: m}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := n.varz(); err == nil {
			return n, nil
		}
		if err := p.exitErr(); err != nil || time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("nats-server did not start: %v\n%s", err, p.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *natsServer) url() string { return "nats://" + n.addr }

// varz is what nats-server's monitoring port says about its traffic.
type varz struct {
	InMsgs   int64 `json:"in_msgs"`
	OutMsgs  int64 `json:"out_msgs"`
	InBytes  int64 `json:"in_bytes"`
	OutBytes int64 `json:"out_bytes"`
	SlowCons int64 `json:"slow_consumers"`
}

func (n *natsServer) varz() (varz, error) {
	var v varz
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + n.mAddr + "/varz")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// clusterNode is one tether-relay process of the bench's cluster.
type clusterNode struct {
	i    int
	addr string
	data string
	p    *process
}

func (n *clusterNode) pid() int { return n.p.pid() }

// start starts (or restarts, on the same address) the node.
func (n *clusterNode) start(ctx context.Context, bin, store, nats string) error {
	args := []string{"--listen", n.addr, "--data", n.data, "--store", store, "--nats", nats,
		"--public-url", "http://" + n.addr, "--enroll-token", benchEnrollToken, "--log-level", "warn",
		"--client-sockets-per-session", "4096", "--client-sockets-per-address", "4096"}
	var err error
	for range 50 { // the port of a killed node may linger a moment
		n.p, _, err = startProcess(ctx, fmt.Sprintf("relay node %d", n.i), "", nil, bin, args...)
		if err != nil {
			return err
		}
		if err = waitHealthy(ctx, "http://"+n.addr, n.p); err == nil {
			return nil
		}
		n.p.kill()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// kill kills the node with SIGKILL: no close frames, no goodbye on NATS.
func (n *clusterNode) kill() { n.p.kill() }

func (n *clusterNode) stop() {
	if n.p != nil && n.p.exitErr() == nil {
		n.p.stop(syscall.SIGTERM, 15*time.Second)
	}
}
