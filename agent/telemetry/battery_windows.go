package telemetry

import (
	"context"
	"syscall"
	"unsafe"

	"github.com/tether-desktop/tether/protocol"
)

var getSystemPowerStatus = syscall.NewLazyDLL("kernel32.dll").NewProc("GetSystemPowerStatus")

// readBattery asks GetSystemPowerStatus; nil without a battery.
func readBattery(context.Context) *protocol.Battery {
	var st struct {
		ACLineStatus        byte
		BatteryFlag         byte
		BatteryLifePercent  byte
		SystemStatusFlag    byte
		BatteryLifeTime     uint32
		BatteryFullLifeTime uint32
	}
	if r, _, _ := getSystemPowerStatus.Call(uintptr(unsafe.Pointer(&st))); r == 0 {
		return nil
	}
	if st.BatteryFlag&128 != 0 || st.BatteryFlag == 255 || st.BatteryLifePercent > 100 { // no battery, or unknown
		return nil
	}
	b := &protocol.Battery{Percent: float64(st.BatteryLifePercent), Charging: st.BatteryFlag&8 != 0}
	if st.BatteryLifeTime != 0xFFFFFFFF {
		secs := float64(st.BatteryLifeTime)
		b.SecondsLeft = &secs
	}
	return b
}
