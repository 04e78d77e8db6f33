package agent

import "time"

// ticker is the pump's telemetry clock, stopped when made. newTicker gives
// the quietest one the system has (quietticker_linux.go); timeTicker is
// the runtime's. Only one goroutine uses it.
type ticker interface {
	C() <-chan time.Time
	Reset(d time.Duration) // ticks every d from now on
	Stop()                 // no tick from now on
	close()                // releases it; no method may be called after
}

// timeTicker is a time.Ticker.
type timeTicker struct{ t *time.Ticker }

func newTimeTicker() ticker {
	t := time.NewTicker(time.Hour)
	t.Stop()
	return timeTicker{t}
}

func (t timeTicker) C() <-chan time.Time   { return t.t.C }
func (t timeTicker) Reset(d time.Duration) { t.t.Reset(d) }
func (t timeTicker) Stop()                 { t.t.Stop() }
func (t timeTicker) close()                { t.t.Stop() }
