//go:build cgo && !linux

package desktop

import (
	"fmt"

	"github.com/faiface/beep"
	"github.com/faiface/beep/speaker"
)

// soundPresence cannot tell without opening the device here: the first
// availability check opens it.
func soundPresence() (why string, known bool) { return "", false }

// quietAudioLibrary has nothing to do where the audio library does not log.
func quietAudioLibrary() {}

// beepSpeaker is faiface/beep's speaker (oto v0.7.1 over WinMM or Core
// Audio), which is process-global: at most one is open. (On Linux the agent
// drives ALSA itself, see alsa_linux.go; oto's Context.Close closes the
// driver a second time from its own goroutine, which on these systems ends
// in a second close of a stale handle.)
type beepSpeaker struct{}

// openSpeaker initialises the speaker for rate Hz with buffers of frames
// frames. It blocks while the driver opens the device.
func openSpeaker(rate, frames int) (speakerDevice, error) {
	if err := speaker.Init(beep.SampleRate(rate), frames); err != nil {
		// The speaker wraps with github.com/pkg/errors, whose %+v (used
		// by slog's text handler) prints a stack trace: keep the text only.
		return nil, fmt.Errorf("%s", err.Error())
	}
	return beepSpeaker{}, nil
}

func (beepSpeaker) play(s beep.Streamer) { speaker.Play(s) }

// done never closes: the speaker does not report a failed device.
func (beepSpeaker) done() <-chan struct{} { return nil }

func (beepSpeaker) failure() error { return nil }

func (beepSpeaker) close() { speaker.Close() }
