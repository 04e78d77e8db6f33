package main

// The harness of the end-to-end tests: it builds the real tether and
// tether-relay binaries once, runs them as processes on loopback, and talks
// to them as a browser or script would.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/internal/clustertest"
	"github.com/tether-desktop/tether/internal/pgtest"
	"github.com/tether-desktop/tether/internal/wait"
	"github.com/tether-desktop/tether/protocol"
)

// hangGuard bounds waits that only fail when something hangs.
const hangGuard = 30 * time.Second

var built struct {
	once          sync.Once
	dir           string
	relay, tether string
	err           error
}

// binaries builds both commands once per test run and returns their paths.
func binaries(t testing.TB) (relay, tether string) {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "tether-e2e-bin")
		if built.err != nil {
			return
		}
		built.relay = filepath.Join(built.dir, "tether-relay")
		built.tether = filepath.Join(built.dir, "tether")
		for _, b := range []struct{ out, pkg, cgo string }{
			{built.relay, "../tether-relay", "0"},
			{built.tether, ".", "1"},
		} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.relay, built.tether
}

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	clustertest.Cleanup()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running binary whose output goes to a log file in the test's
// temporary directory (printed when the test fails).
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(t testing.TB, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("TETHER_E2E_DUMP") != "" {
			p.stop(syscall.SIGQUIT) // Go prints every goroutine's stack to the log
		}
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- %s log ---\n%s", name, tail(b, 60))
			if os.Getenv("TETHER_E2E_DUMP") != "" {
				os.WriteFile(filepath.Join(os.TempDir(), "tether-e2e-"+name+".log"), b, 0o644)
			}
		}
	})
	return p
}

func tail(b []byte, lines int) string {
	s := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(s) > lines {
		s = s[len(s)-lines:]
	}
	return strings.Join(s, "\n")
}

// stop sends sig and waits for the process to exit, then ends what it
// left running (endGroup).
func (p *proc) stop(sig syscall.Signal) {
	defer func() {
		if !endGroup(p.cmd.Process.Pid, hangGuard) {
			p.t.Errorf("what %s started still ran %v after it exited", p.name, hangGuard)
		}
	}()
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(hangGuard):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("%s did not exit within %v of %v", p.name, hangGuard, sig)
	}
}

// relayProc is a running tether-relay: one process on its embedded store,
// or, when TETHER_E2E_NODES is 2 or more, that many nodes on PostgreSQL and
// NATS behind HAProxy listening on addr, so that every test that starts a
// relay runs against a cluster exactly as it does against one node.
type relayProc struct {
	proc            *proc                // the one process
	cluster         *clustertest.Cluster // or the cluster
	url, addr, data string
}

// e2eNodes is the number of relay nodes the tests run against (TETHER_E2E_NODES; 1 by default).
func e2eNodes() int {
	n, _ := strconv.Atoi(os.Getenv("TETHER_E2E_NODES"))
	return max(n, 1)
}

// clusters holds the clusters started in this test binary by their load
// balancer's address, so that a test restarting its relay on the same
// address restarts the same nodes on the same store.
var clusters = struct {
	sync.Mutex
	at map[string]*clustertest.Cluster
}{at: map[string]*clustertest.Cluster{}}

// startRelay runs tether-relay on addr with its store in data, and waits
// until it answers. Against a cluster, data is unused (the store is
// PostgreSQL) and a second call on the same addr starts the stopped nodes
// again.
func startRelay(t testing.TB, addr, data string) *relayProc {
	t.Helper()
	r := &relayProc{url: "http://" + addr, addr: addr, data: data}
	if n := e2eNodes(); n > 1 {
		clusters.Lock()
		c := clusters.at[addr]
		clusters.Unlock()
		if c != nil {
			for _, node := range c.Nodes {
				node.Start()
			}
		} else {
			c = clustertest.Start(t, clustertest.Options{Nodes: n, LoadBalancer: true, LBAddr: addr, Open: true})
			clusters.Lock()
			clusters.at[addr] = c
			clusters.Unlock()
			t.Cleanup(func() {
				clusters.Lock()
				delete(clusters.at, addr)
				clusters.Unlock()
			})
		}
		r.cluster = c
	} else {
		relay, _ := binaries(t)
		r.proc = start(t, "relay", nil, relay, "--listen", addr, "--data", data, "--log-level", "debug")
	}
	waitFor(t, "relay /healthz", func() bool {
		resp, err := http.Get(r.url + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	return r
}

// stop stops the relay with sig (every node of a cluster) and waits for it
// to exit.
func (r *relayProc) stop(sig syscall.Signal) {
	if r.cluster == nil {
		r.proc.stop(sig)
		return
	}
	for _, n := range r.cluster.Nodes {
		if sig == syscall.SIGKILL {
			n.Kill()
		} else {
			n.Stop()
		}
	}
}

// singleNodeOnly skips t when the tests run against a cluster: for what
// only the embedded store has.
func singleNodeOnly(t testing.TB, why string) {
	t.Helper()
	if e2eNodes() > 1 {
		t.Skipf("single node only: %s", why)
	}
}

// agentProc is a running `tether run --no-tray`.
type agentProc struct {
	*proc
	configDir string
	env       []string
	relayURL  string
}

// agentEnv gives the agent a home of its own whose ALSA default device is a
// file, so a beep is really played and can be read back; no desktop session.
func agentEnv(t testing.TB, home string) []string {
	t.Helper()
	raw := filepath.Join(home, "speaker.raw")
	asoundrc := fmt.Sprintf("pcm.!default { type file; slave.pcm \"null\"; file %q; format \"raw\" }\n", raw)
	if err := os.WriteFile(filepath.Join(home, ".asoundrc"), []byte(asoundrc), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"HOME=" + home, "DISPLAY=", "DBUS_SESSION_BUS_ADDRESS=", "TETHER_CONFIG_DIR=", "TETHER_RELAY=", "TETHER_AGENT_RELAY="}
}

func startAgent(t testing.TB, relayURL, configDir string, env []string) *agentProc {
	t.Helper()
	_, tether := binaries(t)
	p := start(t, "agent", env, tether, "--config-dir", configDir, "--relay", relayURL, "run", "--no-tray")
	return &agentProc{proc: p, configDir: configDir, env: env, relayURL: relayURL}
}

// cli runs one tether command against the agent's config dir and returns its stdout.
func (a *agentProc) cli(args ...string) (string, error) {
	_, tether := binaries(a.t)
	cmd := exec.Command(tether, append([]string{"--config-dir", a.configDir, "--relay", a.relayURL}, args...)...)
	cmd.Env = append(os.Environ(), a.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("tether %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// pairingCode asks the agent's CLI for a code.
func (a *agentProc) pairingCode() string {
	a.t.Helper()
	out, err := a.cli("pair", "--json")
	if err != nil {
		a.t.Fatal(err)
	}
	var p struct{ Code, URL, ExpiresAt string }
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		a.t.Fatalf("pair --json printed %q: %v", out, err)
	}
	return p.Code
}

// waitFor polls cond until it holds; only a hang makes it fail.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	wait.Until(t, what, hangGuard, cond)
}

// pair redeems code over HTTP (with session, if any) and returns the session token.
func pair(t testing.TB, relayURL, code, session string) (token, device string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"code": code, "label": "e2e"})
	req, _ := http.NewRequest("POST", relayURL+"/api/v1/pairings", bytes.NewReader(body))
	if session != "" {
		req.Header.Set("Authorization", "Bearer "+session)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		t.Fatalf("pair %s: %d %s", code, resp.StatusCode, raw)
	}
	var out map[string]string
	json.Unmarshal(raw, &out)
	return out["session_token"], out["device_id"]
}

// client is a script-style client on /ws/client.
type client struct {
	t       testing.TB
	conn    *websocket.Conn
	session string
	seq     int
}

func dialClient(t testing.TB, relayURL, session string) *client {
	t.Helper()
	var conn *websocket.Conn
	waitFor(t, "client socket", func() bool {
		var err error
		conn, _, err = websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(relayURL, "http")+"/ws/client",
			http.Header{"Authorization": {"Bearer " + session}})
		return err == nil
	})
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, session: session}
	c.next(protocol.TypeWelcome)
	return c
}

// next returns the next frame of one of types, skipping others, or fails
// after wait. A wait of 0 means hangGuard.
func (c *client) nextWithin(wait time.Duration, types ...string) (*protocol.Message, error) {
	if wait == 0 {
		wait = hangGuard
	}
	c.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		m, err := protocol.Decode(b)
		if err != nil {
			return nil, err
		}
		for _, typ := range types {
			if m.Type == typ {
				return m, nil
			}
		}
	}
}

func (c *client) next(types ...string) *protocol.Message {
	c.t.Helper()
	m, err := c.nextWithin(0, types...)
	if err != nil {
		c.t.Fatalf("waiting for %v: %v", types, err)
	}
	return m
}

// presence waits for a presence of device that satisfies cond.
func (c *client) presence(device string, cond func(protocol.Presence) bool) protocol.Presence {
	c.t.Helper()
	for {
		m := c.next(protocol.TypePresence)
		var p protocol.Presence
		json.Unmarshal(m.Data, &p)
		if m.Device == device && cond(p) {
			return p
		}
	}
}

// command sends a command and returns its one result, checking that no
// second result with the same id follows (within the next frames read).
func (c *client) command(device, name string, args any) *protocol.Message {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("c%d", c.seq)
	msg := protocol.Message{Type: protocol.TypeCommand, ID: id, Device: device, Name: name}
	if args != nil {
		msg.Args = protocol.MustData(args)
	}
	c.conn.SetWriteDeadline(time.Now().Add(hangGuard))
	if err := c.conn.WriteJSON(msg); err != nil {
		c.t.Fatal(err)
	}
	for {
		m := c.next(protocol.TypeResult)
		if m.ID == id {
			return m
		}
		c.t.Fatalf("result for %q while waiting for %q: a command was answered twice or late", m.ID, id)
	}
}

// code returns "ok" or the error code of a result.
func code(m *protocol.Message) string {
	if m.OK != nil && *m.OK {
		return "ok"
	}
	if m.Error == nil {
		return "<no error>"
	}
	return m.Error.Code
}
