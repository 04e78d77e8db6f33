package desktop

import (
	"context"
	"math"
	"os"
	"testing"
	"unsafe"
)

// TestEndpointVolumeFloatArgs checks that a float argument reaches a COM
// method through SyscallN (in XMM1, where the x64 convention puts a float
// second argument): it sets the master level in decibels inside the
// device's range and reads it back. It runs under Wine from
// TestSessionOnWindows (TETHER_WINE_COM set); Wine 8 implements the
// decibel setter, not the scalar one the agent uses, which takes its float
// the same way.
func TestEndpointVolumeFloatArgs(t *testing.T) {
	if os.Getenv("TETHER_WINE_COM") == "" {
		t.Skip("run by TestSessionOnWindows under Wine, with a sound device")
	}
	const (
		aevSetMasterDB = 6  // SetMasterVolumeLevel
		aevGetMasterDB = 8  // GetMasterVolumeLevel
		aevGetRange    = 20 // GetVolumeRange
	)
	err := withEndpointVolume(context.Background(), func(vol *comObject) error {
		var lo, hi, step float32
		if err := vol.call(aevGetRange, uintptr(unsafe.Pointer(&lo)), uintptr(unsafe.Pointer(&hi)), uintptr(unsafe.Pointer(&step))); err != nil {
			return err
		}
		want := lo + (hi-lo)*0.37
		if err := vol.call(aevSetMasterDB, uintptr(math.Float32bits(want)), 0); err != nil {
			return err
		}
		var got float32
		if err := vol.call(aevGetMasterDB, uintptr(unsafe.Pointer(&got))); err != nil {
			return err
		}
		t.Logf("range %g to %g dB; set %g dB, read %g dB", lo, hi, want, got)
		if got != want || lo >= hi {
			t.Errorf("read %g dB back, want %g (range %g to %g)", got, want, lo, hi)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
