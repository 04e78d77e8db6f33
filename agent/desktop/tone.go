package desktop

import (
	"math"
	"sync/atomic"
	"time"
)

// Sound format of the speaker: signed 16-bit little-endian stereo frames at
// this rate.
const (
	sampleRate   = 44100
	bufferFrames = sampleRate / 10 // 100 ms of speaker buffer: the latency of a beep
	bufferTime   = time.Second * bufferFrames / sampleRate

	toneAmplitude = 0.3                  // of full scale: audible, not startling
	toneFade      = 5 * time.Millisecond // linear fade in and out, against clicks
)

// tone is a sine wave of a fixed length with a short fade in and out. It
// implements beep.Streamer. Stream is called by the speaker's goroutine;
// Stop may be called from any goroutine.
type tone struct {
	step  float64 // phase advance per frame, in radians
	total int     // frames in the whole tone
	fade  int     // frames in each fade
	n     int     // frames streamed so far
	stop  atomic.Bool
}

func newTone(rate int, hz float64, d time.Duration) *tone {
	total := int(d.Seconds() * float64(rate))
	fade := min(int(toneFade.Seconds()*float64(rate)), total/2)
	return &tone{step: 2 * math.Pi * hz / float64(rate), total: total, fade: max(fade, 1)}
}

// Stop makes the tone fade out now instead of at its end.
func (t *tone) Stop() { t.stop.Store(true) }

// Stream fills samples with the next frames of the tone and reports how many
// it wrote; it returns false once the tone is over.
func (t *tone) Stream(samples [][2]float64) (int, bool) {
	if t.stop.Load() {
		t.total = min(t.total, t.n+t.fade)
	}
	if t.n >= t.total {
		return 0, false
	}
	k := min(len(samples), t.total-t.n)
	for i := range k {
		f := t.n + i
		gain := toneAmplitude * min(1, float64(f)/float64(t.fade), float64(t.total-f)/float64(t.fade))
		v := gain * math.Sin(t.step*float64(f))
		samples[i] = [2]float64{v, v}
	}
	t.n += k
	return k, true
}

// Err is always nil: a tone cannot fail.
func (t *tone) Err() error { return nil }
