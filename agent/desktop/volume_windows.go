package desktop

// The volume on Windows, through Core Audio: the MMDevice enumerator's
// default render endpoint (eRender, eConsole) and its IAudioEndpointVolume,
// whose master level (a scalar from 0 to 1) and mute are the ones the
// taskbar's volume flyout shows.

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"unsafe"

	"github.com/tether-desktop/tether/agent/commands"
	"github.com/tether-desktop/tether/protocol"
)

var (
	clsidMMDeviceEnumerator = mustGUID("{BCDE0395-E52F-467C-8E3D-C4579291692E}")
	iidIMMDeviceEnumerator  = mustGUID("{A95664D2-9614-4F35-A746-DE8DB63617E6}")
	iidIAudioEndpointVolume = mustGUID("{5CDF2C82-841E-4546-9722-0CF74078229A}")
)

// Method indexes in the vtables (after IUnknown's three).
const (
	enumGetDefaultAudioEndpoint = 4 // IMMDeviceEnumerator
	deviceActivate              = 3 // IMMDevice
	aevSetMasterScalar          = 7 // IAudioEndpointVolume::SetMasterVolumeLevelScalar
	aevGetMasterScalar          = 9 // IAudioEndpointVolume::GetMasterVolumeLevelScalar
	aevSetMute                  = 14
	aevGetMute                  = 15
)

// Arguments of GetDefaultAudioEndpoint and Activate.
const (
	eRender   = 0
	eConsole  = 0
	clsctxAll = 0x17 // CLSCTX_INPROC_SERVER | INPROC_HANDLER | LOCAL_SERVER | REMOTE_SERVER
)

// coreAudioMethod is VolumeState.Method on Windows.
const coreAudioMethod = "Core Audio"

// noOutput is the reason given when Windows has no default output device.
const noOutput = "no sound output device (Core Audio has no default render endpoint)"

// withEndpointVolume calls fn with the IAudioEndpointVolume of the default
// output device, on the COM thread (see inCOM), waiting at most until ctx
// ends.
func withEndpointVolume(ctx context.Context, fn func(vol *comObject) error) error {
	return inCOM(ctx, func() error {
		enum, err := createInstance(&clsidMMDeviceEnumerator, &iidIMMDeviceEnumerator)
		if err != nil {
			return protocol.Errorf(protocol.CodeUnavailable, "Core Audio: create the device enumerator: %v", err)
		}
		defer enum.release()
		var dev *comObject
		if err := enum.call(enumGetDefaultAudioEndpoint, eRender, eConsole, uintptr(unsafe.Pointer(&dev))); err != nil || dev == nil {
			var hr hresultError
			if errors.As(err, &hr) && hr == hrNotFound || err == nil {
				return protocol.Errorf(protocol.CodeUnavailable, "%s", noOutput)
			}
			return protocol.Errorf(protocol.CodeUnavailable, "Core Audio: the default output device: %v", err)
		}
		defer dev.release()
		var vol *comObject
		if err := dev.call(deviceActivate, uintptr(unsafe.Pointer(&iidIAudioEndpointVolume)), clsctxAll, 0,
			uintptr(unsafe.Pointer(&vol))); err != nil || vol == nil {
			return protocol.Errorf(protocol.CodeUnavailable, "Core Audio: the output device has no endpoint volume: %v", err)
		}
		defer vol.release()
		return fn(vol)
	})
}

// setVolume applies ch to the default output device and reads it back.
func setVolume(ctx context.Context, ch commands.VolumeChange) (commands.VolumeState, error) {
	if ch.Level != nil && runtime.GOARCH == "arm64" {
		// SyscallN passes arguments in integer registers only; on arm64
		// a float argument travels in a floating-point register.
		return commands.VolumeState{}, protocol.Errorf(protocol.CodeUnavailable, "setting the level is not supported on Windows on ARM yet (mute is)")
	}
	st := commands.VolumeState{Method: coreAudioMethod}
	err := withEndpointVolume(ctx, func(vol *comObject) error {
		if ch.Level != nil {
			scalar := float32(*ch.Level) / 100
			if err := vol.call(aevSetMasterScalar, uintptr(math.Float32bits(scalar)), 0); err != nil {
				return audioErr("set the level to "+strconv.Itoa(*ch.Level)+"%", "SetMasterVolumeLevelScalar", err)
			}
		}
		if ch.Mute != nil {
			if err := vol.call(aevSetMute, uintptr(boolToInt(*ch.Mute)), 0); err != nil {
				return audioErr("set mute", "SetMute", err)
			}
		}
		var level float32
		if err := vol.call(aevGetMasterScalar, uintptr(unsafe.Pointer(&level))); err != nil {
			return audioErr("read the level", "GetMasterVolumeLevelScalar", err)
		}
		var muted int32
		if err := vol.call(aevGetMute, uintptr(unsafe.Pointer(&muted))); err != nil {
			return audioErr("read mute", "GetMute", err)
		}
		st.Level = int(math.Round(float64(level) * 100))
		st.Muted = muted != 0
		return nil
	})
	if err != nil {
		return commands.VolumeState{}, err
	}
	return st, nil
}

// volumeUnavailable says why the volume cannot be set now ("" if it can):
// no default output device, or Core Audio missing.
func volumeUnavailable(ctx context.Context) string {
	err := withEndpointVolume(ctx, func(*comObject) error { return nil })
	if err != nil {
		return protocol.AsError(err).Message
	}
	return ""
}

// audioErr is the unavailable error of a failed IAudioEndpointVolume call:
// the device went away, or this Windows (or Wine) does not implement it.
func audioErr(what, method string, err error) error {
	if errors.Is(err, hrNotImpl) {
		return protocol.Errorf(protocol.CodeUnavailable, "Core Audio cannot %s here: IAudioEndpointVolume::%s is not implemented (E_NOTIMPL)", what, method)
	}
	return protocol.Errorf(protocol.CodeUnavailable, "Core Audio cannot %s: %s: %v", what, method, err)
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
