package agent

import (
	"testing"
	"time"
)

func TestSleepDetector(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump time.Duration
		want time.Duration
	}{
		{"no jump", 0, 0},
		{"small adjustment", 2 * time.Second, 0},
		{"slept an hour", time.Hour, time.Hour},
		{"clock set back", -time.Hour, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var off time.Duration
			d := newSleepDetector(func() time.Time { return time.Now().Round(0).Add(off) })
			off = tc.jump
			got := d.check()
			// The real clocks move a little between the two readings.
			if got != 0 && (got < tc.want-time.Second || got > tc.want+time.Second) || got == 0 && tc.want != 0 {
				t.Errorf("check = %v, want about %v", got, tc.want)
			}
			if d.check() != 0 {
				t.Error("the same jump was reported twice")
			}
		})
	}
}
