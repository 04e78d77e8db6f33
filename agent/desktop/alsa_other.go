//go:build cgo && !linux

package desktop

// quietAudioLibrary has nothing to do where the audio library does not log.
func quietAudioLibrary() {}
