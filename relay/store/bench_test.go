package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
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

// BenchmarkRedeem measures one pairing: creating a code and redeeming it
// (two committed writes).
func BenchmarkRedeem(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	mustCreateDevice(b, s, "d1", base)
	expires := time.Now().Add(time.Hour)
	now := time.Now()
	i := 0
	for b.Loop() {
		code := hash(fmt.Sprintf("code-%d", i))
		i++
		if err := s.CreatePairingCode(ctx, code, "d1", expires); err != nil {
			b.Fatal(err)
		}
		if dev, err := s.RedeemPairingCode(ctx, code, now); err != nil || dev != "d1" {
			b.Fatalf("redeem = %q, %v", dev, err)
		}
	}
}
