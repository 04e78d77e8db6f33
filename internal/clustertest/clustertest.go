// Package clustertest runs a real relay cluster for tests: nats-server and
// PostgreSQL (Debian's packages), N tether-relay binaries on loopback ports
// sharing them, and optionally HAProxy in front, health-checked on
// /healthz. Tests can kill a node with SIGKILL, restart NATS or PostgreSQL,
// and drive the cluster with real WebSocket agents and clients (peers.go).
//
// A missing tool skips the test, or fails it when TETHER_REQUIRE_DESKTOP=1
// (scripts/test sets it). Every wait is bounded; every process stops when
// the test ends. It is for tests only.
package clustertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/pgtest"
)

// Paths of the Debian programs.
var (
	NATSServer = "/usr/sbin/nats-server"
	HAProxy    = "/usr/sbin/haproxy"
)

// EnrollToken is the enroll token every node of a test cluster requires.
const EnrollToken = "clustertest-enroll-token"

// readyWithin bounds the start of every process.
const readyWithin = 30 * time.Second

// Options shape a cluster.
type Options struct {
	Nodes int // relay nodes; default 3
	// LoadBalancer puts HAProxy in front of the nodes.
	LoadBalancer bool
	// OwnPostgres gives the cluster a PostgreSQL server of its own, which
	// the test may stop and start; otherwise a fresh database on the test
	// binary's shared server (the package's TestMain must call
	// pgtest.StopShared).
	OwnPostgres bool
	// LBAddr is the host:port the load balancer listens on; default a
	// free loopback port.
	LBAddr string
	// Open lets any agent register, as one relay does by default;
	// otherwise every node requires EnrollToken.
	Open bool
}

// Cluster is a running relay cluster. Its methods are for the test's
// goroutine unless said otherwise.
type Cluster struct {
	t     testing.TB
	dir   string
	bin   string
	open  bool
	Nodes []*Node
	// LB is the URL of the load balancer ("" without one).
	LB string
	// Postgres is the cluster's own server (nil on the shared one).
	Postgres *pgtest.Server
	dbURL    string
	nats     *proc
	natsPort int
}

// Node is one tether-relay process.
type Node struct {
	c    *Cluster
	i    int
	Addr string // host:port it listens on
	URL  string // http://Addr
	p    *proc
}

// proc is a process the cluster started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// need skips or fails t when path is missing.
func need(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("TETHER_REQUIRE_DESKTOP") == "1" {
			t.Fatalf("%s is required (TETHER_REQUIRE_DESKTOP=1); scripts/setup --test installs it: %v", path, err)
		}
		t.Skipf("%s not found (scripts/setup --test installs it)", path)
	}
}

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// relayBinary builds tether-relay once per test binary.
func relayBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "clustertest-bin-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "tether-relay")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", build.bin, "github.com/tether-desktop/tether/cmd/tether-relay")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("build tether-relay: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// Cleanup removes the binary built for the tests; call it from TestMain.
func Cleanup() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// Start starts a cluster that stops when t ends. It blocks until every
// process answers (a few seconds).
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	need(t, NATSServer)
	if o.LoadBalancer {
		need(t, HAProxy)
	}
	if o.Nodes <= 0 {
		o.Nodes = 3
	}
	c := &Cluster{t: t, dir: t.TempDir(), open: o.Open}
	if o.OwnPostgres {
		c.Postgres = pgtest.Start(t)
		db := "tether"
		if err := c.Postgres.Exec(context.Background(), "postgres", "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		c.dbURL = c.Postgres.URL(db)
	} else {
		c.dbURL = pgtest.DB(t)
	}
	c.bin = relayBinary(t)
	c.natsPort = freePort(t)
	c.StartNATS()
	if o.LoadBalancer {
		if o.LBAddr == "" {
			o.LBAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
		}
		c.LB = "http://" + o.LBAddr
	}
	for i := range o.Nodes {
		port := freePort(t)
		n := &Node{c: c, i: i, Addr: "127.0.0.1:" + strconv.Itoa(port)}
		n.URL = "http://" + n.Addr
		c.Nodes = append(c.Nodes, n)
		n.Start()
	}
	if o.LoadBalancer {
		c.startHAProxy(o.LBAddr)
	}
	// Run before the processes are stopped (cleanups run last first): a
	// failed test shows what every node said, whichever wait gave up.
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("relay node %d, end of its log:\n%s", n.i, n.p.tail())
			}
		}
	})
	return c
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run starts a process whose output goes to a log file in the cluster's
// directory; it is killed when the test ends.
func (c *Cluster) run(name, prog string, args ...string) *proc {
	c.t.Helper()
	log := filepath.Join(c.dir, name+".log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(prog, args...)
	cmd.Stdout, cmd.Stderr = f, f
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	c.t.Cleanup(func() { p.kill(syscall.SIGTERM) })
	return p
}

// kill sends sig to the process and waits (bounded) until it is gone,
// then kills it outright if it is not.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// alive reports whether the process still runs.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail returns the end of the process's log, for failure messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// waitFor polls ok every 50 ms until it is true or within passes; it
// reports whether ok became true.
func waitFor(within time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dials reports whether addr accepts TCP connections.
func dials(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// NATSURL is the URL of the cluster's NATS server.
func (c *Cluster) NATSURL() string { return "nats://127.0.0.1:" + strconv.Itoa(c.natsPort) }

// StartNATS starts nats-server (again) on the cluster's port and waits
// until it accepts connections.
func (c *Cluster) StartNATS() {
	c.t.Helper()
	c.nats = c.run("nats", NATSServer, "-a", "127.0.0.1", "-p", strconv.Itoa(c.natsPort))
	addr := "127.0.0.1:" + strconv.Itoa(c.natsPort)
	if !waitFor(readyWithin, func() bool { return dials(addr) || !c.nats.alive() }) || !c.nats.alive() {
		c.t.Fatalf("nats-server did not start:\n%s", c.nats.tail())
	}
}

// StopNATS stops nats-server at once (SIGKILL).
func (c *Cluster) StopNATS() { c.nats.kill(syscall.SIGKILL) }

// Start starts the node, or starts it again after Stop or Kill on the same
// address, store and NATS, and waits until it answers /healthz.
func (n *Node) Start() {
	c := n.c
	c.t.Helper()
	public := n.URL
	if c.LB != "" {
		public = c.LB
	}
	args := []string{"--listen", n.Addr, "--data", filepath.Join(c.dir, fmt.Sprintf("data%d", n.i)),
		"--store", c.dbURL, "--nats", c.NATSURL(), "--public-url", public, "--log-level", "debug"}
	if !c.open {
		args = append(args, "--enroll-token", EnrollToken)
	}
	n.p = c.run(fmt.Sprintf("relay%d", n.i), c.bin, args...)
	if !waitFor(readyWithin, func() bool { return healthy(n.URL) || !n.p.alive() }) || !n.p.alive() {
		c.t.Fatalf("relay node %d did not start:\n%s", n.i, n.p.tail())
	}
}

// healthy reports whether base answers /healthz with 200.
func healthy(base string) bool {
	cl := http.Client{Timeout: time.Second}
	resp, err := cl.Get(base + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop stops the node with SIGTERM (a graceful shutdown) and waits for it.
func (n *Node) Stop() { n.p.kill(syscall.SIGTERM) }

// Kill kills the node with SIGKILL: no close frames, no goodbye on NATS.
func (n *Node) Kill() { n.p.kill(syscall.SIGKILL) }

// Log returns the end of the node's log.
func (n *Node) Log() string { return n.p.tail() }

// startHAProxy starts HAProxy on addr in front of every node, checking
// each on /healthz every 500 ms.
func (c *Cluster) startHAProxy(addr string) {
	c.t.Helper()
	var servers strings.Builder
	for _, n := range c.Nodes {
		fmt.Fprintf(&servers, "    server relay%d %s check\n", n.i, n.Addr)
	}
	cfg := filepath.Join(c.dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(HAProxyConfig(addr, servers.String())), 0o600); err != nil {
		c.t.Fatal(err)
	}
	p := c.run("haproxy", HAProxy, "-db", "-f", cfg)
	if !waitFor(readyWithin, func() bool { return healthy(c.LB) || !p.alive() }) || !p.alive() {
		c.t.Fatalf("haproxy did not start:\n%s", p.tail())
	}
}

// HAProxyConfig is the load balancer's configuration used by the tests
// and by scripts/cluster (docs/CLUSTER.md explains it): WebSockets pass
// through (timeout tunnel), nodes are checked on /healthz and taken out
// after two failed checks, the least-loaded node takes new connections.
func HAProxyConfig(bind, servers string) string {
	return `global
    maxconn 1000

defaults
    mode http
    option forwardfor
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 75s
    timeout server 75s
    timeout tunnel 1h
    timeout http-request 15s

frontend tether
    bind ` + bind + `
    default_backend relays

backend relays
    balance leastconn
    option httpchk
    http-check send meth GET uri /healthz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
` + servers
}

// Dump makes the node print every goroutine's stack to its log and exit
// (SIGQUIT), and returns the log: for a test failing on a stuck node.
func (n *Node) Dump() string {
	n.p.kill(syscall.SIGQUIT)
	return n.p.tail()
}
