package desktop

import (
	"math"
	"testing"
	"time"
)

// streamAll pulls a streamer dry in chunks of n frames, as the speaker does.
func streamAll(t *testing.T, s *tone, n int, stopAfter int) []float64 {
	t.Helper()
	var out []float64
	buf := make([][2]float64, n)
	for i := 0; ; i++ {
		if i == stopAfter {
			s.Stop()
		}
		k, ok := s.Stream(buf)
		if !ok {
			return out
		}
		for _, f := range buf[:k] {
			if f[0] != f[1] {
				t.Fatalf("channels differ: %v", f)
			}
			out = append(out, f[0])
		}
		if i > 1e6 {
			t.Fatal("tone never ends")
		}
	}
}

func TestTone(t *testing.T) {
	const rate = 44100
	fade := int(toneFade.Seconds() * rate)
	for _, tc := range []struct {
		name   string
		hz     float64
		d      time.Duration
		chunk  int
		wantN  int
		stopAt int // chunk index at which Stop is called; -1 never
	}{
		{"880 Hz 300 ms", 880, 300 * time.Millisecond, 4410, 13230, -1},
		{"shortest", 100, 20 * time.Millisecond, 512, 882, -1},
		{"highest, odd chunks", 4000, 200 * time.Millisecond, 333, 8820, -1},
		{"stopped early fades out", 880, 3 * time.Second, 1000, 2000 + fade, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTone(rate, tc.hz, tc.d)
			got := streamAll(t, s, tc.chunk, tc.stopAt)
			if len(got) != tc.wantN {
				t.Fatalf("frames = %d, want %d", len(got), tc.wantN)
			}
			if s.Err() != nil {
				t.Errorf("Err = %v", s.Err())
			}
			peak, maxStep := 0.0, 0.0
			for i, v := range got {
				peak = max(peak, math.Abs(v))
				if i > 0 {
					maxStep = max(maxStep, math.Abs(v-got[i-1]))
				}
			}
			if peak > toneAmplitude+1e-9 || peak < toneAmplitude*0.9 {
				t.Errorf("peak %v, want about %v", peak, toneAmplitude)
			}
			// No click: no step larger than the steepest slope of the sine itself.
			if slope := toneAmplitude * 2 * math.Pi * tc.hz / rate; maxStep > slope*1.01 {
				t.Errorf("largest step %v exceeds the sine's slope %v: a click", maxStep, slope)
			}
			// The ends are quiet: the fades reach (almost) zero.
			if first, last := math.Abs(got[0]), math.Abs(got[len(got)-1]); first > 0.01 || last > 0.01 {
				t.Errorf("edges %v and %v, want near 0", first, last)
			}
		})
	}
}
