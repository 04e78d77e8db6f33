//go:build cgo

package desktop

/*
#cgo pkg-config: alsa
#include <alsa/asoundlib.h>

// quiet drops alsa-lib's own error messages, which it writes to stderr on
// every failed open (eight lines when there is no card). The reason still
// reaches the caller through the returned error.
static void tether_alsa_quiet(const char *file, int line, const char *function, int err, const char *fmt, ...) {}

static void tether_alsa_silence(void) { snd_lib_error_set_handler(tether_alsa_quiet); }

// tether_pcm_open opens the default playback device for signed 16-bit
// little-endian interleaved stereo at rate, with about latency_us of buffer.
static int tether_pcm_open(snd_pcm_t **pcm, unsigned rate, unsigned latency_us) {
	int err = snd_pcm_open(pcm, "default", SND_PCM_STREAM_PLAYBACK, 0);
	if (err < 0) {
		*pcm = NULL;
		return err;
	}
	err = snd_pcm_set_params(*pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, 2, rate, 1, latency_us);
	if (err < 0) {
		snd_pcm_close(*pcm);
		*pcm = NULL;
	}
	return err;
}

// tether_pcm_write writes all frames, recovering from underruns (a busy
// machine may not keep the device fed).
static int tether_pcm_write(snd_pcm_t *pcm, const short *buf, snd_pcm_uframes_t frames) {
	while (frames > 0) {
		snd_pcm_sframes_t n = snd_pcm_writei(pcm, buf, frames);
		if (n < 0) {
			int err = snd_pcm_recover(pcm, (int)n, 1);
			if (err < 0) {
				return err;
			}
			continue;
		}
		buf += 2 * n;
		frames -= n;
	}
	return 0;
}

// tether_pcm_close plays what is buffered and closes the device.
static int tether_pcm_close(snd_pcm_t *pcm) {
	snd_pcm_drain(pcm);
	return snd_pcm_close(pcm);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/faiface/beep"
)

var silenceOnce sync.Once

// quietAudioLibrary stops alsa-lib from writing to the agent's stderr.
func quietAudioLibrary() { silenceOnce.Do(func() { C.tether_alsa_silence() }) }

// alsaSpeaker plays a beep.Mixer on ALSA's default device. It replaces
// faiface/beep's speaker on Linux: the speaker's oto v0.7.1 closes each ALSA
// device twice (Context.Close, then again from its own copy goroutine about
// a buffer later, on the freed handle), and when the next device was opened
// in between, that second close broke it: a beep after an idle close
// sometimes never finished ("the sound device stopped playing"). Here the
// device is closed exactly once, by close, after the writer has stopped.
//
// One goroutine (run) owns the device while it is open: it mixes and writes
// a buffer at a time, silence when nothing plays, as the speaker did (a
// device left to run dry must be prepared again: through the PulseAudio
// plugin that delayed the next beep by about 2 s here). play is safe from
// any goroutine; close must be called once.
type alsaSpeaker struct {
	pcm    *C.snd_pcm_t
	frames int // frames per write

	mu    sync.Mutex
	mixer beep.Mixer

	stop   chan struct{} // closed by close
	exited chan struct{} // closed when run returns
	err    error         // why run stopped early; read after exited
}

// openSpeaker opens the default ALSA device for rate Hz with buffers of
// frames frames. It blocks while the driver opens the device.
func openSpeaker(rate, frames int) (speakerDevice, error) {
	quietAudioLibrary()
	var pcm *C.snd_pcm_t
	latency := C.uint(int64(frames) * 1_000_000 / int64(rate))
	if rc := C.tether_pcm_open(&pcm, C.uint(rate), latency); rc < 0 {
		return nil, alsaError("open the default device", rc)
	}
	a := &alsaSpeaker{
		pcm:    pcm,
		frames: frames,
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go a.run()
	return a, nil
}

func alsaError(op string, rc C.int) error {
	return fmt.Errorf("ALSA: %s: %s", op, C.GoString(C.snd_strerror(rc)))
}

func (a *alsaSpeaker) play(s beep.Streamer) {
	a.mu.Lock()
	a.mixer.Add(s)
	a.mu.Unlock()
}

func (a *alsaSpeaker) done() <-chan struct{} { return a.exited }

func (a *alsaSpeaker) failure() error {
	select {
	case <-a.exited:
		return a.err
	default:
		return nil
	}
}

// close stops the writer, plays what the device holds and closes it. It
// blocks until the writer has stopped (a buffer at most on a working device).
func (a *alsaSpeaker) close() {
	close(a.stop)
	<-a.exited
	C.tether_pcm_close(a.pcm)
}

func (a *alsaSpeaker) run() {
	defer close(a.exited)
	samples := make([][2]float64, a.frames)
	buf := make([]int16, 2*a.frames)
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		a.mu.Lock()
		a.mixer.Stream(samples) // silence when nothing plays
		a.mu.Unlock()
		for i, s := range samples {
			buf[2*i], buf[2*i+1] = pcm16(s[0]), pcm16(s[1])
		}
		// Blocks until the device has room: the pace of the loop.
		if rc := C.tether_pcm_write(a.pcm, (*C.short)(unsafe.Pointer(&buf[0])), C.snd_pcm_uframes_t(a.frames)); rc < 0 {
			a.err = alsaError("write", rc)
			return
		}
	}
}

// pcm16 converts a sample in [-1, 1] to signed 16 bits, clipping.
func pcm16(v float64) int16 {
	return int16(max(-1, min(1, v)) * (1<<15 - 1))
}
