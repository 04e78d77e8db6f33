package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tether-desktop/tether/protocol"
)

// powerSupplyDir is where Linux lists batteries and chargers.
var powerSupplyDir = "/sys/class/power_supply"

// readBattery reads the first battery under powerSupplyDir (type
// "Battery"), or nil when there is none.
func readBattery(context.Context) *protocol.Battery {
	entries, err := os.ReadDir(powerSupplyDir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		dir := filepath.Join(powerSupplyDir, e.Name())
		if sysfs(dir, "type") != "Battery" || sysfs(dir, "present") == "0" {
			continue
		}
		pct, err := strconv.ParseFloat(sysfs(dir, "capacity"), 64)
		if err != nil {
			continue
		}
		status := sysfs(dir, "status")
		b := &protocol.Battery{Percent: clampPercent(pct), Charging: status == "Charging"}
		// Time left: energy (µWh) over power (µW), or charge (µAh) over current (µA).
		now, full, rate := sysfsNum(dir, "energy_now"), sysfsNum(dir, "energy_full"), sysfsNum(dir, "power_now")
		if now == 0 && rate == 0 {
			now, full, rate = sysfsNum(dir, "charge_now"), sysfsNum(dir, "charge_full"), sysfsNum(dir, "current_now")
		}
		if rate > 0 {
			var hours float64
			switch status {
			case "Discharging":
				hours = now / rate
			case "Charging":
				hours = (full - now) / rate
			}
			if hours > 0 && hours < 100 {
				secs := hours * 3600
				b.SecondsLeft = &secs
			}
		}
		return b
	}
	return nil
}

func sysfs(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func sysfsNum(dir, name string) float64 {
	f, err := strconv.ParseFloat(sysfs(dir, name), 64)
	if err != nil || f < 0 {
		return 0
	}
	return f
}
