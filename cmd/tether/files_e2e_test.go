package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/agent/activity"
	"github.com/tether-desktop/tether/internal/sendfile"
	"github.com/tether-desktop/tether/protocol"
)

// filesSetup is a real relay and a real agent whose Downloads folder is
// inbox's parent, paired with a session.
type filesSetup struct {
	relay   *relayProc
	agent   *agentProc
	inbox   string // Downloads/Tether
	session string
	device  string
}

func startFiles(t *testing.T) *filesSetup {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	dir := t.TempDir()
	relay := startRelay(t, freeAddr(t), filepath.Join(dir, "relay"))
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	dl := filepath.Join(home, "Downloads here")
	env := append(agentEnv(t, home), "XDG_DOWNLOAD_DIR="+dl)
	agent := startAgent(t, relay.url, filepath.Join(dir, "agent"), env)
	waitFor(t, "agent registration", func() bool {
		_, err := os.Stat(filepath.Join(agent.configDir, "credentials.json"))
		return err == nil
	})
	session, device := pair(t, relay.url, agent.pairingCode(), "")
	return &filesSetup{relay: relay, agent: agent, inbox: filepath.Join(dl, "Tether"), session: session, device: device}
}

// socket opens a client socket that waits until the device offers receive_files.
func (s *filesSetup) socket(t *testing.T) *websocket.Conn {
	t.Helper()
	c := dialClient(t, s.relay.url, s.session)
	c.presence(s.device, func(p protocol.Presence) bool {
		return p.Online && contains(p.Capabilities, protocol.CommandReceiveFiles)
	})
	return c.conn
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// inboxNames lists the inbox folder.
func inboxNames(t *testing.T, dir string) []string {
	t.Helper()
	es, _ := os.ReadDir(dir)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func noPart(t *testing.T, dir string) {
	t.Helper()
	for _, n := range inboxNames(t, dir) {
		if strings.HasSuffix(n, ".part") {
			t.Fatalf("a part file was left behind: %s (folder: %q)", n, inboxNames(t, dir))
		}
	}
}

func savedAs(t *testing.T, m *protocol.Message) protocol.FileResult {
	t.Helper()
	if code(m) != "ok" {
		t.Fatalf("transfer failed: %s %v", code(m), m.Error)
	}
	var r protocol.FileResult
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSendFilesEndToEnd sends files with the protocol the page speaks,
// through the real relay to the real agent, and checks what lands on disk.
func TestSendFilesEndToEnd(t *testing.T) {
	s := startFiles(t)
	conn := s.socket(t)

	t.Run("a file arrives whole, and a second one of the same name is numbered", func(t *testing.T) {
		data := randomBytes(t, 3<<20+123)
		for i, want := range []string{"photo.bin", "photo (2).bin"} {
			res, err := sendfile.Send(conn, fmt.Sprintf("same%d", i), s.device, "../photo.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := savedAs(t, res)
			if r.SavedAs != want || r.SHA256 != hexSum(data) || r.Size != int64(len(data)) || r.Folder != "Downloads here/Tether" {
				t.Fatalf("result %+v, want saved as %q", r, want)
			}
			got, err := os.ReadFile(filepath.Join(s.inbox, want))
			if err != nil || hexSum(got) != hexSum(data) {
				t.Fatalf("%s on disk: %d bytes, %v; hashes differ", want, len(got), err)
			}
		}
		noPart(t, s.inbox)
	})

	t.Run("a bad hash is refused and leaves nothing", func(t *testing.T) {
		before := len(inboxNames(t, s.inbox))
		data := randomBytes(t, 200<<10)
		res, err := sendfile.Send(conn, "bad", s.device, "bad.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{BadHash: true})
		if err != nil {
			t.Fatal(err)
		}
		if code(res) != protocol.CodeHashMismatch {
			t.Fatalf("bad hash answered %s, want hash_mismatch", code(res))
		}
		if n := len(inboxNames(t, s.inbox)); n != before {
			t.Fatalf("the folder went from %d to %d entries: %q", before, n, inboxNames(t, s.inbox))
		}
	})

	t.Run("a cancel midway leaves nothing", func(t *testing.T) {
		data := randomBytes(t, 5<<20)
		res, err := sendfile.Send(conn, "cancel", s.device, "cancel.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{CancelAfter: 8})
		if err != nil {
			t.Fatal(err)
		}
		if code(res) != protocol.CodeCancelled {
			t.Fatalf("cancel answered %s, want cancelled", code(res))
		}
		noPart(t, s.inbox)
		if _, err := os.Stat(filepath.Join(s.inbox, "cancel.bin")); err == nil {
			t.Fatal("a cancelled file was saved")
		}
	})

	t.Run("refusals", func(t *testing.T) {
		res, err := sendfile.Send(conn, "big", s.device, "big.bin", nil, protocol.DefaultMaxFile+1, sendfile.Options{})
		if err != nil || code(res) != protocol.CodeTooLarge {
			t.Fatalf("a file over 100 MiB: %v %v, want too_large", code(res), err)
		}
		res, err = sendfile.Send(conn, "name", s.device, "a\u202egpj.exe", nil, 1, sendfile.Options{})
		if err != nil || code(res) != protocol.CodeInvalidArgs {
			t.Fatalf("a name with a bidi override: %v %v, want invalid_args", code(res), err)
		}
		c := &client{t: t, conn: conn}
		if res := c.command(s.device, protocol.CommandReceiveFiles, map[string]any{"name": "a", "size": 1}); code(res) != protocol.CodeBadRequest {
			t.Fatalf("receive_files as a command: %s, want bad_request", code(res))
		}
	})

	t.Run("two transfers at once", func(t *testing.T) {
		var wg sync.WaitGroup
		datas := [][]byte{randomBytes(t, 4<<20), randomBytes(t, 2<<20+7)}
		results := make([]*protocol.Message, 2)
		errs := make([]error, 2)
		for i := range datas {
			conn := s.socket(t)
			wg.Go(func() {
				results[i], errs[i] = sendfile.Send(conn, "two", s.device, fmt.Sprintf("two-%d.bin", i), bytes.NewReader(datas[i]), int64(len(datas[i])), sendfile.Options{})
			})
		}
		wg.Wait()
		for i := range datas {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			r := savedAs(t, results[i])
			got, _ := os.ReadFile(filepath.Join(s.inbox, r.SavedAs))
			if hexSum(got) != hexSum(datas[i]) {
				t.Fatalf("transfer %d: %s differs from what was sent", i, r.SavedAs)
			}
		}
		noPart(t, s.inbox)
	})

	t.Run("the activity log has each transfer, never its name", func(t *testing.T) {
		out, err := s.agent.cli("log", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var saved, mismatched int
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e activity.Entry
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if e.Command != protocol.CommandReceiveFiles {
				continue
			}
			switch {
			case e.OK:
				saved++
			case e.Code == protocol.CodeHashMismatch:
				mismatched++
			}
		}
		if saved < 2 || mismatched != 1 {
			t.Fatalf("log has %d files saved and %d hash mismatches, want ≥ 2 and 1:\n%s", saved, mismatched, out)
		}
		if strings.Contains(out, "photo") || strings.Contains(out, "bad.bin") {
			t.Fatalf("the log names a file:\n%s", out)
		}
	})

	t.Run("switched off, refused by the relay", func(t *testing.T) {
		if _, err := s.agent.cli("deny", protocol.CommandReceiveFiles); err != nil {
			t.Fatal(err)
		}
		c := &client{t: t, conn: conn}
		c.presence(s.device, func(p protocol.Presence) bool { return !contains(p.Capabilities, protocol.CommandReceiveFiles) })
		res, err := sendfile.Send(conn, "off", s.device, "off.bin", nil, 1, sendfile.Options{})
		if err != nil || code(res) != protocol.CodeNotAllowed {
			t.Fatalf("switched off: %v %v, want not_allowed", code(res), err)
		}
		s.agent.cli("allow", protocol.CommandReceiveFiles)
	})
}

// TestSendFileAgentKilled kills the agent midway: the sender is told the
// device went offline, and the part file the killed agent left is gone
// once it starts again.
func TestSendFileAgentKilled(t *testing.T) {
	s := startFiles(t)
	conn := s.socket(t)
	data := randomBytes(t, 30<<20)
	var once sync.Once
	res, err := sendfile.Send(conn, "kill", s.device, "kill.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{
		OnAck: func(next uint32) {
			if next >= 16 {
				once.Do(func() { s.agent.stop(syscall.SIGKILL) })
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code(res) != protocol.CodeDeviceOffline {
		t.Fatalf("agent killed: %s, want device_offline", code(res))
	}
	parts := 0
	for _, n := range inboxNames(t, s.inbox) {
		if strings.HasSuffix(n, ".part") {
			parts++
		}
	}
	t.Logf("part files left by the killed agent: %d", parts)
	s.agent = startAgent(t, s.relay.url, s.agent.configDir, s.agent.env)
	s.socket(t) // online again: the inbox was cleaned at start
	noPart(t, s.inbox)
	if _, err := os.Stat(filepath.Join(s.inbox, "kill.bin")); err == nil {
		t.Fatal("a file cut short was saved")
	}
}

// TestSendFileSenderOrRelayGone: the browser's socket closing midway, and
// the relay killed midway, each leave nothing in the folder.
func TestSendFileSenderOrRelayGone(t *testing.T) {
	s := startFiles(t)
	data := randomBytes(t, 30<<20)
	partsGone := func(what string) {
		t.Helper()
		waitFor(t, what, func() bool {
			for _, n := range inboxNames(t, s.inbox) {
				if strings.HasSuffix(n, ".part") || strings.HasPrefix(n, "gone") {
					return false
				}
			}
			return true
		})
	}

	conn := s.socket(t)
	var once sync.Once
	_, err := sendfile.Send(conn, "sender", s.device, "gone-sender.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{
		OnAck: func(next uint32) {
			if next >= 16 {
				once.Do(func() { conn.Close() })
			}
		},
	})
	if err == nil {
		t.Fatal("the transfer finished after its socket closed")
	}
	partsGone("the agent to drop the file of a sender gone")

	conn = s.socket(t)
	var kill sync.Once
	_, err = sendfile.Send(conn, "relay", s.device, "gone-relay.bin", bytes.NewReader(data), int64(len(data)), sendfile.Options{
		OnAck: func(next uint32) {
			if next >= 16 {
				kill.Do(func() { s.relay.stop(syscall.SIGKILL) })
			}
		},
	})
	if err == nil {
		t.Fatal("the transfer finished after the relay was killed")
	}
	partsGone("the agent to drop the file when the relay went away")
}
