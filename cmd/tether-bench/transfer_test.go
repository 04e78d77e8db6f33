package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestTransferTiny runs the -transfer scenario (RunTransferOnly) with small
// files through the real relay and agent binaries and checks its
// transfer.json (TETHER_TRANSFER_MB sets the file size, e.g. 100 for the
// figures in BENCHMARKS.md).
func TestTransferTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	mb, _ := strconv.Atoi(os.Getenv("TETHER_TRANSFER_MB"))
	if mb <= 0 {
		mb = 8
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a hang guard only
	defer cancel()
	if err := RunTransferOnly(ctx, Config{Root: moduleRoot(t), Out: out, Log: testWriter{t}}, mb); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "transfer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r TransferResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.SingleMBps <= 0 || r.ParallelMBps <= 0 || r.Parallel != 5 || r.RelayRSSPeak < r.RelayRSSBefore || r.RelayRSSBefore <= 0 {
		t.Fatalf("implausible figures %+v", r)
	}
	t.Logf("one file %.0f MB/s; 5 at once %.0f MB/s; relay RSS %.1f → peak %.1f MB",
		r.SingleMBps, r.ParallelMBps, float64(r.RelayRSSBefore)/1e6, float64(r.RelayRSSPeak)/1e6)
}
