//go:build cgo

package desktop

import (
	"fmt"
	"os"
	"path/filepath"
)

// soundPresence tells, without opening anything, whether this machine may
// have a sound device: it looks for an ALSA playback device, a sound server
// (PulseAudio, PipeWire) and ALSA configuration of the user's or the
// administrator's. Opening ALSA's default device to find out loads alsa-lib's
// configuration and, through its PulseAudio plugin, some twenty libraries
// (about 4 MB resident, for the rest of the process's life) even when it
// fails; so the agent opens it only for a beep.
//
// known is true: why is the reason there is certainly no sound device, or
// "" when there may be one (the first beep finds out).
func soundPresence() (why string, known bool) {
	if os.Getenv("ALSA_CONFIG_PATH") != "" || os.Getenv("PULSE_SERVER") != "" {
		return "", true
	}
	var paths []string
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".asoundrc"))
	}
	if cfg, err := os.UserConfigDir(); err == nil {
		paths = append(paths, filepath.Join(cfg, "alsa", "asoundrc"))
	}
	paths = append(paths, "/etc/asound.conf")
	runtimeDir := os.Getenv("XDG_RUNTIME_DIR")
	if runtimeDir == "" {
		runtimeDir = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	paths = append(paths, filepath.Join(runtimeDir, "pulse", "native"), filepath.Join(runtimeDir, "pipewire-0"))
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return "", true
		}
	}
	if m, _ := filepath.Glob("/dev/snd/pcmC*D*p"); len(m) > 0 {
		return "", true
	}
	return "no sound device: no ALSA playback device in /dev/snd, no sound server and no ALSA configuration", true
}
