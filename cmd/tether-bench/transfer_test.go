package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestTransferTiny runs the transfer scenario with small files through the
// real relay and agent binaries (TETHER_TRANSFER_MB sets the file size,
// e.g. 100 for the figures in BENCHMARKS.md).
func TestTransferTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	mb, _ := strconv.Atoi(os.Getenv("TETHER_TRANSFER_MB"))
	if mb <= 0 {
		mb = 8
	}
	cfg := &Config{Root: moduleRoot(t), AgentRun: time.Second, Targets: []string{"none"}, Log: testWriter{t}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a hang guard only
	defer cancel()
	if err := cfg.locate(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	r := runTransfer(ctx, cfg, t.TempDir(), TransferConfig{FileBytes: int64(mb) * 1_000_000, Parallel: 5})
	if r.Error != "" {
		t.Fatal(r.Error)
	}
	if r.SingleMBps <= 0 || r.ParallelMBps <= 0 || r.RelayRSSPeak < r.RelayRSSBefore || r.RelayRSSBefore <= 0 {
		t.Fatalf("implausible figures %+v", r)
	}
	t.Logf("one file %.0f MB/s; 5 at once %.0f MB/s; relay RSS %.1f → peak %.1f MB",
		r.SingleMBps, r.ParallelMBps, float64(r.RelayRSSBefore)/1e6, float64(r.RelayRSSPeak)/1e6)
}
