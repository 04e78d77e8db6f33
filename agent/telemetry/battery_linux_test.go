package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestBatteryFromSysfs reads batteries laid out as Linux's power_supply
// class lays them out; no battery is no field.
func TestBatteryFromSysfs(t *testing.T) {
	dir := t.TempDir()
	old := powerSupplyDir
	powerSupplyDir = dir
	t.Cleanup(func() { powerSupplyDir = old })
	write := func(dev string, files map[string]string) {
		os.MkdirAll(filepath.Join(dir, dev), 0o755)
		for k, v := range files {
			os.WriteFile(filepath.Join(dir, dev, k), []byte(v+"\n"), 0o644)
		}
	}
	if b := readBattery(context.Background()); b != nil {
		t.Fatalf("no battery: %+v", b)
	}
	write("AC", map[string]string{"type": "Mains", "online": "1"})
	write("BAT0", map[string]string{"type": "Battery", "present": "1", "capacity": "57", "status": "Discharging",
		"energy_now": "20000000", "energy_full": "50000000", "power_now": "10000000"})
	b := readBattery(context.Background())
	if b == nil || b.Percent != 57 || b.Charging || b.SecondsLeft == nil || *b.SecondsLeft != 7200 {
		t.Fatalf("discharging: %+v", b)
	}
	write("BAT0", map[string]string{"status": "Charging", "power_now": "15000000"})
	if b = readBattery(context.Background()); !b.Charging || b.SecondsLeft == nil || *b.SecondsLeft != 7200 {
		t.Fatalf("charging: %+v", b)
	}
	write("BAT0", map[string]string{"status": "Full", "power_now": "0"})
	if b = readBattery(context.Background()); b.Charging || b.SecondsLeft != nil {
		t.Fatalf("full: %+v", b)
	}
}
