package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-desktop/tether/internal/pgtest"
)

// BenchmarkDeviceByToken looks devices up by token hash among 10,000, as
// the relay does on every agent connection; run serially and from
// GOMAXPROCS goroutines.
func BenchmarkDeviceByToken(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	const n = 10_000
	for i := range n {
		id := fmt.Sprintf("d%d", i)
		if err := s.CreateDevice(ctx, Device{ID: id, Name: "n", OS: "linux", CreatedAt: base}, hash(id)); err != nil {
			b.Fatal(err)
		}
	}
	tokens := make([][]byte, n)
	for i := range tokens {
		tokens[i] = hash(fmt.Sprintf("d%d", i))
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.DeviceByToken(ctx, tokens[i%n]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				if _, err := s.DeviceByToken(ctx, tokens[i%n]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRedeem measures pairings on SQLite (see benchRedeem).
func BenchmarkRedeem(b *testing.B) {
	s, _ := openTest(b)
	benchRedeem(b, s)
}

// BenchmarkRedeemPostgres measures pairings on PostgreSQL 15 over loopback
// TCP (internal/pgtest: fsync off), like BenchmarkRedeem on SQLite.
func BenchmarkRedeemPostgres(b *testing.B) {
	benchRedeem(b, openPostgresTest(b, pgtest.DB(b), pgOptions{}))
}

// benchRedeem measures one pairing on s: creating a code and redeeming it
// (two committed writes), serially and from 4×GOMAXPROCS goroutines, as
// several requests at once would. ns/op of "parallel" is the inverse of the
// throughput.
func benchRedeem(b *testing.B, s Store) {
	ctx := context.Background()
	if err := s.CreateDevice(ctx, Device{ID: "d1", Name: "n", OS: "linux", CreatedAt: base}, hash("dev-d1")); err != nil {
		b.Fatal(err)
	}
	expires := time.Now().Add(time.Hour)
	now := time.Now()
	var next atomic.Int64
	pair := func() error {
		code := hash(fmt.Sprintf("code-%d", next.Add(1)))
		if err := s.CreatePairingCode(ctx, code, "d1", expires); err != nil {
			return err
		}
		if dev, err := s.RedeemPairingCode(ctx, code, now); err != nil || dev != "d1" {
			return fmt.Errorf("redeem = %q, %v", dev, err)
		}
		return nil
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := pair(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := pair(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
