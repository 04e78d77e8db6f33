package main

// The transfer scenario (-transfer): files sent from a browser-like sender
// through the real tether-relay to the real agent (`tether run`) on
// loopback. The sender speaks the page's protocol (internal/sendfile:
// file_begin, 48 KiB binary chunks within the agent's window, file_end
// with the SHA-256 it computed); the agent writes into a Downloads folder
// of its own and checks the hash. It reports MB/s for one transfer alone
// and for Parallel at once, and the relay's RSS (from /proc) before and at
// its peak while they run.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tether-desktop/tether/internal/sendfile"
	"github.com/tether-desktop/tether/protocol"
)

// TransferConfig shapes the transfer scenario; zero fields take the defaults.
type TransferConfig struct {
	FileBytes int64 // size of each file; default 100 MB
	Parallel  int   // transfers at once in the parallel run; default 5
}

// TransferResult is what the transfer scenario measured.
type TransferResult struct {
	FileBytes      int64   `json:"file_bytes"`
	Parallel       int     `json:"parallel"`
	SingleMBps     float64 `json:"single_mb_per_s"`   // one transfer alone, MB (10^6 bytes) a second
	ParallelMBps   float64 `json:"parallel_mb_per_s"` // all parallel transfers together
	RelayRSSBefore int64   `json:"relay_rss_before_bytes"`
	RelayRSSPeak   int64   `json:"relay_rss_peak_bytes"` // highest VmRSS sampled every 50 ms during the parallel run
	RelayCPUPct    float64 `json:"relay_cpu_pct"`        // during the parallel run, % of one core
	AgentCPUPct    float64 `json:"agent_cpu_pct"`
	SenderCPUPct   float64 `json:"sender_cpu_pct"` // this process: the senders and their SHA-256
	Error          string  `json:"error,omitempty"`
}

// runTransfer runs the transfer scenario in dir (relay data, the agent's
// home and Downloads) with cfg's binaries. Failures are in the result's Error.
func runTransfer(ctx context.Context, cfg *Config, dir string, tc TransferConfig) *TransferResult {
	if tc.FileBytes <= 0 {
		tc.FileBytes = 100_000_000
	}
	if tc.Parallel <= 0 {
		tc.Parallel = 5
	}
	r := &TransferResult{FileBytes: tc.FileBytes, Parallel: tc.Parallel}
	if err := measureTransfer(ctx, cfg, dir, tc, r); err != nil {
		r.Error = err.Error()
		cfg.logf("transfer: %v", err)
	}
	return r
}

func measureTransfer(ctx context.Context, cfg *Config, dir string, tc TransferConfig, r *TransferResult) error {
	if tc.FileBytes > protocol.DefaultMaxFile {
		return fmt.Errorf("files of %d bytes are over the agent's default limit of %d", tc.FileBytes, protocol.DefaultMaxFile)
	}
	rt := newRelayTarget(cfg.RelayBin, filepath.Join(dir, "relay-data"))
	if err := rt.start(ctx); err != nil {
		return err
	}
	defer rt.stop()
	relayURL := "http://" + rt.addr()
	home, confDir, downloads := filepath.Join(dir, "home"), filepath.Join(dir, "config"), filepath.Join(dir, "Downloads")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	env := []string{"HOME=" + home, "XDG_DOWNLOAD_DIR=" + downloads, "DISPLAY=", "WAYLAND_DISPLAY=", "DBUS_SESSION_BUS_ADDRESS=",
		"TETHER_CONFIG_DIR=", "TETHER_RELAY=", "TETHER_AGENT_RELAY=", "TETHER_ENROLL_TOKEN=" + benchEnrollToken}
	agent, _, err := startProcess(ctx, "tether", "", env, cfg.AgentBin, "--config-dir", confDir, "--relay", relayURL, "run", "--no-tray")
	if err != nil {
		return err
	}
	defer agent.stop(syscall.SIGTERM, 15*time.Second)
	token, device, err := pairAgent(ctx, cfg, rt, agent, env, confDir, relayURL)
	if err != nil {
		return err
	}
	conns := make([]*websocket.Conn, tc.Parallel)
	for i := range conns {
		if conns[i], err = openSender(ctx, rt.addr(), token, device); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	inbox := filepath.Join(downloads, "Tether")
	send := func(i int, name string) error {
		res, err := sendfile.Send(conns[i], name, device, name+".bin", zeroReader{}, tc.FileBytes, sendfile.Options{MIME: "application/octet-stream"})
		if err != nil {
			return err
		}
		if res.OK == nil || !*res.OK {
			return fmt.Errorf("transfer %s: %v", name, res.Error)
		}
		os.Remove(filepath.Join(inbox, name+".bin")) // keep the disk free for the next
		return nil
	}

	cfg.logf("transfer: one file of %d MB", tc.FileBytes/1e6)
	start := time.Now()
	if err := send(0, "single"); err != nil {
		return err
	}
	r.SingleMBps = float64(tc.FileBytes) / 1e6 / time.Since(start).Seconds()

	before, err := readProc(rt.p.pid())
	if err != nil {
		return err
	}
	agentBefore, _ := readProc(agent.pid())
	genBefore, _ := readProc(os.Getpid())
	r.RelayRSSBefore = before.RSS
	peak := before.RSS
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if s, err := readProc(rt.p.pid()); err == nil {
					peak = max(peak, s.RSS)
				}
			}
		}
	})
	cfg.logf("transfer: %d files of %d MB at once", tc.Parallel, tc.FileBytes/1e6)
	start = time.Now()
	errs := make([]error, tc.Parallel)
	var wg sync.WaitGroup
	for i := range tc.Parallel {
		wg.Go(func() { errs[i] = send(i, fmt.Sprintf("parallel-%d", i)) })
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(stop)
	sampler.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	after, err := readProc(rt.p.pid())
	if err != nil {
		return err
	}
	agentAfter, _ := readProc(agent.pid())
	genAfter, _ := readProc(os.Getpid())
	r.ParallelMBps = float64(tc.FileBytes) * float64(tc.Parallel) / 1e6 / secs
	r.RelayRSSPeak = max(peak, after.RSS)
	r.RelayCPUPct = cpuPercent(before, after)
	r.AgentCPUPct = cpuPercent(agentBefore, agentAfter)
	r.SenderCPUPct = cpuPercent(genBefore, genAfter)
	cfg.logf("transfer: one %.0f MB/s; %d at once %.0f MB/s; relay RSS %.1f MB before, peak %.1f MB; CPU relay %.0f %%, agent %.0f %%, senders %.0f %%",
		r.SingleMBps, tc.Parallel, r.ParallelMBps, float64(r.RelayRSSBefore)/1e6, float64(r.RelayRSSPeak)/1e6, r.RelayCPUPct, r.AgentCPUPct, r.SenderCPUPct)
	return nil
}

// RunTransferOnly is the whole -transfer run: it builds the binaries not
// given, runs the transfer scenario with files of fileMB MB, prints its
// figures and writes them to cfg.Out/transfer.json. It blocks.
func RunTransferOnly(ctx context.Context, cfg Config, fileMB int) error {
	cfg.fill()
	cfg.AgentRun = max(cfg.AgentRun, time.Second) // locate builds the agent too
	tmp, err := os.MkdirTemp("", "tether-bench-transfer")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := cfg.locate(ctx, tmp); err != nil {
		return err
	}
	r := runTransfer(ctx, &cfg, tmp, TransferConfig{FileBytes: int64(fileMB) * 1_000_000})
	fmt.Printf("transfer of %d MB files: one %.0f MB/s; %d at once %.0f MB/s in all; relay RSS %.1f MB before, %.1f MB at peak\n",
		fileMB, r.SingleMBps, r.Parallel, r.ParallelMBps, float64(r.RelayRSSBefore)/1e6, float64(r.RelayRSSPeak)/1e6)
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.Out, "transfer.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if r.Error != "" {
		return fmt.Errorf("transfer: %s", r.Error)
	}
	return nil
}

// pairAgent gets a pairing code from the running agent's CLI and redeems
// it, returning the session token and the device id.
func pairAgent(ctx context.Context, cfg *Config, rt *relayTarget, agent *process, env []string, confDir, relayURL string) (string, string, error) {
	var code struct{ Code string }
	for deadline := time.Now().Add(30 * time.Second); ; {
		cmd := exec.CommandContext(ctx, cfg.AgentBin, "--config-dir", confDir, "--relay", relayURL, "pair", "--json")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err == nil && json.Unmarshal(out, &code) == nil && code.Code != "" {
			break
		}
		if err := agent.exitErr(); err != nil {
			return "", "", fmt.Errorf("agent exited: %v\n%s", err, agent.log.String())
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("no pairing code from the agent within 30 s: %v", err)
		}
		sleep(ctx, 200*time.Millisecond)
	}
	var paired struct {
		SessionToken string `json:"session_token"`
		DeviceID     string `json:"device_id"`
	}
	if err := rt.api.post(ctx, sourceClient(61000), "/api/v1/pairings", "", map[string]string{"code": code.Code}, 201, &paired); err != nil {
		return "", "", err
	}
	return paired.SessionToken, paired.DeviceID, nil
}

// openSender opens a client socket and waits until device offers receive_files.
func openSender(ctx context.Context, addr, token, device string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.DialContext(ctx, "ws://"+addr+"/ws/client", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		return nil, fmt.Errorf("open a client socket: %w", err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("wait for the device to offer receive_files: %w", err)
		}
		m, err := protocol.Decode(b)
		if err != nil || m.Type != protocol.TypePresence || m.Device != device {
			continue
		}
		var p protocol.Presence
		if json.Unmarshal(m.Data, &p) == nil && p.Online && strings.Contains(strings.Join(p.Capabilities, ","), protocol.CommandReceiveFiles) {
			conn.SetReadDeadline(time.Time{})
			return conn, nil
		}
	}
}

// zeroReader is a file of zeros of any size, without the memory.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
