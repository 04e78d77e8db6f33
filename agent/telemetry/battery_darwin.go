package telemetry

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

var (
	pmsetPercent = regexp.MustCompile(`(\d+)%;\s*(\w[\w ]*);`)
	pmsetLeft    = regexp.MustCompile(`(\d+):(\d+) remaining`)
)

// readBattery parses `pmset -g batt`; nil without a battery.
func readBattery(ctx context.Context) *protocol.Battery {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/pmset", "-g", "batt").Output()
	if err != nil {
		return nil
	}
	m := pmsetPercent.FindSubmatch(out)
	if m == nil {
		return nil
	}
	pct, _ := strconv.ParseFloat(string(m[1]), 64)
	b := &protocol.Battery{Percent: clampPercent(pct), Charging: string(m[2]) == "charging"}
	if l := pmsetLeft.FindSubmatch(out); l != nil {
		h, _ := strconv.Atoi(string(l[1]))
		min, _ := strconv.Atoi(string(l[2]))
		secs := float64(h*3600 + min*60)
		b.SecondsLeft = &secs
	}
	return b
}
