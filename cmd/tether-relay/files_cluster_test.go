package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/internal/clustertest"
	"github.com/tether-desktop/tether/internal/sendfile"
	"github.com/tether-desktop/tether/protocol"
)

var agentBin struct {
	once sync.Once
	path string
	err  error
}

// tetherBinary builds the real agent (with cgo) once per test binary.
func tetherBinary(t *testing.T) string {
	t.Helper()
	agentBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "tether-files-cluster")
		if err != nil {
			agentBin.err = err
			return
		}
		agentBin.path = filepath.Join(dir, "tether")
		cmd := exec.Command("go", "build", "-o", agentBin.path, "../tether")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			agentBin.err = fmt.Errorf("go build ../tether: %v\n%s", err, out)
		}
	})
	if agentBin.err != nil {
		t.Fatal(agentBin.err)
	}
	return agentBin.path
}

// TestFilesAcrossClusterNodes sends files from a browser-like client on
// one relay node to the real agent on another, through NATS: the bytes
// arrive whole, a cancel crosses, and the agent's node killed midway ends
// the transfer with one result and leaves nothing in the folder.
func TestFilesAcrossClusterNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of processes")
	}
	c := clustertest.Start(t, clustertest.Options{Nodes: 2})
	n0, n1 := c.Nodes[0].URL, c.Nodes[1].URL
	bin := tetherBinary(t)
	dir := t.TempDir()
	home, conf, dl := filepath.Join(dir, "home"), filepath.Join(dir, "conf"), filepath.Join(dir, "Downloads")
	os.MkdirAll(home, 0o700)
	agent := exec.Command(bin, "--config-dir", conf, "--relay", n0, "run", "--no-tray")
	agent.Env = append(os.Environ(), "HOME="+home, "XDG_DOWNLOAD_DIR="+dl, "DISPLAY=", "DBUS_SESSION_BUS_ADDRESS=",
		"TETHER_CONFIG_DIR=", "TETHER_RELAY=", "TETHER_AGENT_RELAY=", "TETHER_ENROLL_TOKEN="+clustertest.EnrollToken)
	var log bytes.Buffer
	agent.Stdout, agent.Stderr = &log, &log
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
		if t.Failed() {
			t.Logf("--- agent log ---\n%s", log.String())
		}
	})
	var creds struct {
		DeviceID    string `json:"device_id"`
		DeviceToken string `json:"device_token"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(conf, "credentials.json"))
		if err == nil && json.Unmarshal(b, &creds) == nil && creds.DeviceToken != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not register: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	session := clustertest.Pair(t, n0, n1, creds.DeviceToken, "")
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n1, "http")+"/ws/client", http.Header{"Authorization": {"Bearer " + session}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the agent's presence on the other node: %v", err)
		}
		m, _ := protocol.Decode(b)
		var p protocol.Presence
		if m != nil && m.Type == protocol.TypePresence && m.Device == creds.DeviceID && json.Unmarshal(m.Data, &p) == nil &&
			p.Online && strings.Contains(strings.Join(p.Capabilities, ","), protocol.CommandReceiveFiles) {
			break
		}
	}
	inbox := filepath.Join(dl, "Tether")

	data := make([]byte, 20<<20+321)
	rand.Read(data)
	res, err := sendfile.Send(conn, "x1", creds.DeviceID, "across.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == nil || !*res.OK {
		t.Fatalf("across nodes: %+v", res.Error)
	}
	got, err := os.ReadFile(filepath.Join(inbox, "across.bin"))
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("the file on disk differs from what was sent (%d bytes, %v)", len(got), err)
	}

	res, err = sendfile.Send(conn, "x2", creds.DeviceID, "cancel.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{CancelAfter: 8})
	if err != nil || res.Error == nil || res.Error.Code != protocol.CodeCancelled {
		t.Fatalf("cancel across nodes: %+v %v", res, err)
	}

	var once sync.Once
	res, err = sendfile.Send(conn, "x3", creds.DeviceID, "cut.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{
		OnAck: func(next uint32) {
			if next >= 16 {
				once.Do(c.Nodes[0].Kill)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || (res.Error.Code != protocol.CodeDeviceOffline && res.Error.Code != protocol.CodeUnavailable) {
		t.Fatalf("the agent's node killed: %+v", res)
	}
	t.Logf("the agent's node killed midway: %s: %s", res.Error.Code, res.Error.Message)
	for deadline := time.Now().Add(30 * time.Second); ; {
		ents, _ := os.ReadDir(inbox)
		left := ""
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".part") || e.Name() == "cut.bin" || e.Name() == "cancel.bin" {
				left = e.Name()
			}
		}
		if left == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s left in the folder", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
