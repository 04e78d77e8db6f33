//go:build cgo

package desktop

/*
#cgo pkg-config: alsa
#include <alsa/asoundlib.h>

// quiet drops alsa-lib's own error messages, which it writes to stderr on
// every failed open (eight lines when there is no card). The reason still
// reaches the caller through oto's error.
static void tether_alsa_quiet(const char *file, int line, const char *function, int err, const char *fmt, ...) {}

static void tether_alsa_silence(void) { snd_lib_error_set_handler(tether_alsa_quiet); }
*/
import "C"

import "sync"

var silenceOnce sync.Once

// quietAudioLibrary stops alsa-lib from writing to the agent's stderr.
func quietAudioLibrary() { silenceOnce.Do(func() { C.tether_alsa_silence() }) }
