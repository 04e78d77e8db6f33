package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// projected is the stated linear model for 100k idle agents: the base RSS
// plus 100k times the per-connection RSS measured at the largest step, and
// the CPU at rest scaled by 100k/N. A model, not a measurement.
func projected(steps []IdleStep) (rss float64, cpu float64, ok bool) {
	if len(steps) == 0 {
		return 0, 0, false
	}
	s := steps[len(steps)-1]
	return float64(s.RSSBaseBytes) + 100_000*s.PerConnBytes, s.CPURestPct * 100_000 / float64(s.N), true
}

// row is one line of the table: a figure for every target, one value per run.
type row struct {
	label, unit, target string
	vals                map[string][]float64 // by target name, in run order; missing = not measured
	lowerBetter         bool
}

// Spread is one figure of one target over the runs.
type Spread struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

// TableRow is one line of the table in results.json.
type TableRow struct {
	Figure string            `json:"figure"`
	Unit   string            `json:"unit,omitempty"`
	Target string            `json:"target,omitempty"`
	Values map[string]Spread `json:"values"` // by relay
}

// spread summarises vs: the median (the mean of the middle two for an even
// count), the least and the most.
func spread(vs []float64) Spread {
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1], Runs: vs}
}

// table is the rows with their spreads, for results.json.
func table(res *Results) []TableRow {
	var out []TableRow
	for _, r := range rows(res) {
		tr := TableRow{Figure: r.label, Unit: r.unit, Target: r.target, Values: map[string]Spread{}}
		for n, vs := range r.vals {
			tr.Values[n] = spread(vs)
		}
		out = append(out, tr)
	}
	return out
}

func rows(res *Results) []row {
	var out []row
	get := func(f func(*TargetResult) (float64, bool)) map[string][]float64 {
		m := map[string][]float64{}
		for name, runs := range res.Runs {
			for _, tr := range runs {
				if v, ok := f(tr); ok {
					m[name] = append(m[name], v)
				}
			}
		}
		return m
	}
	idleAt := func(i int, f func(IdleStep) float64) func(*TargetResult) (float64, bool) {
		return func(tr *TargetResult) (float64, bool) {
			if i < 0 {
				i = len(tr.Idle) - 1
			}
			if i < 0 || i >= len(tr.Idle) {
				return 0, false
			}
			return f(tr.Idle[i]), true
		}
	}
	steps := res.Config.IdleSteps
	for i, n := range steps {
		k := i
		out = append(out,
			row{label: fmt.Sprintf("idle %d agents: RSS per connection", n), unit: "KB", target: "≤ 12 KB", lowerBetter: true,
				vals: get(idleAt(k, func(s IdleStep) float64 { return s.PerConnBytes / 1024 }))},
			row{label: fmt.Sprintf("idle %d agents: relay CPU at rest", n), unit: "% core", lowerBetter: true,
				vals: get(idleAt(k, func(s IdleStep) float64 { return s.CPURestPct }))},
			row{label: fmt.Sprintf("idle %d agents: load generator CPU", n), unit: "% core", lowerBetter: true,
				vals: get(idleAt(k, func(s IdleStep) float64 { return s.GenCPURestPct }))},
			row{label: fmt.Sprintf("idle %d agents: connects per second", n), unit: "/s",
				vals: get(idleAt(k, func(s IdleStep) float64 { return s.ConnectsPerSec }))},
		)
	}
	out = append(out,
		row{label: "model, 100k idle: relay RSS", unit: "MB", target: "100k held", lowerBetter: true, vals: get(func(tr *TargetResult) (float64, bool) {
			r, _, ok := projected(tr.Idle)
			return r / 1e6, ok
		})},
		row{label: "model, 100k idle: relay CPU at rest", unit: "% core", lowerBetter: true, vals: get(func(tr *TargetResult) (float64, bool) {
			_, c, ok := projected(tr.Idle)
			return c, ok
		})},
	)
	rs := func(f func(*RestartResult) float64) func(*TargetResult) (float64, bool) {
		return func(tr *TargetResult) (float64, bool) {
			if tr.Restart == nil {
				return 0, false
			}
			return f(tr.Restart), true
		}
	}
	out = append(out,
		row{label: "restart: agents", unit: "", vals: get(rs(func(r *RestartResult) float64 { return float64(r.N) }))},
		row{label: "restart: SIGTERM to exit", unit: "s", lowerBetter: true, vals: get(rs(func(r *RestartResult) float64 { return r.ExitSeconds }))},
		row{label: "restart: 50 % back", unit: "s", lowerBetter: true, vals: get(rs(func(r *RestartResult) float64 { return r.T50 }))},
		row{label: "restart: 99 % back", unit: "s", target: "≤ 30 s", lowerBetter: true, vals: get(rs(func(r *RestartResult) float64 { return r.T99 }))},
		row{label: "restart: 100 % back", unit: "s", lowerBetter: true, vals: get(rs(func(r *RestartResult) float64 { return r.T100 }))},
		row{label: "restart: peak accepts", unit: "/s", vals: get(rs(func(r *RestartResult) float64 { return r.PeakAcceptsPerSec }))},
		row{label: "restart: refused upgrades", unit: "", lowerBetter: true, vals: get(rs(func(r *RestartResult) float64 { return float64(r.RefusedUpgrades) }))},
		row{label: "restart: refused connections (down)", unit: "", lowerBetter: true, vals: get(rs(func(r *RestartResult) float64 { return float64(r.RefusedTCP) }))},
		row{label: "restart: most dials by one agent", unit: "", target: "no retry loop", lowerBetter: true, vals: get(rs(func(r *RestartResult) float64 { return float64(r.MaxAttempts) }))},
	)
	fo := func(sel func(*TargetResult) *FanoutResult, f func(*FanoutResult) float64) func(*TargetResult) (float64, bool) {
		return func(tr *TargetResult) (float64, bool) {
			if x := sel(tr); x != nil {
				return f(x), true
			}
			return 0, false
		}
	}
	fan := func(tr *TargetResult) *FanoutResult { return tr.Fanout }
	loaded := func(tr *TargetResult) *FanoutResult { return tr.Loaded }
	out = append(out,
		row{label: "fan-out: offered deliveries", unit: "/s", vals: get(fo(fan, func(f *FanoutResult) float64 { return f.OfferedPerSec }))},
		row{label: "fan-out: delivered messages", unit: "/s", target: "≥ 150k/s", vals: get(fo(fan, func(f *FanoutResult) float64 { return f.DeliveredPerSec }))},
		row{label: "fan-out: relay CPU", unit: "% core", lowerBetter: true, vals: get(fo(fan, func(f *FanoutResult) float64 { return f.CPUPct }))},
		row{label: "fan-out: load generator CPU", unit: "% core", vals: get(fo(fan, func(f *FanoutResult) float64 { return f.GenCPUPct }))},
		row{label: "fan-out: delivered per relay CPU-second", unit: "/s", vals: get(fo(fan, func(f *FanoutResult) float64 { return f.MsgsPerCPUSec }))},
	)
	lat := func(sel func(*TargetResult) *Latency, f func(*Latency) float64) func(*TargetResult) (float64, bool) {
		return func(tr *TargetResult) (float64, bool) {
			if x := sel(tr); x != nil && x.N > 0 {
				return f(x), true
			}
			return 0, false
		}
	}
	li := func(tr *TargetResult) *Latency { return tr.RTTIdle }
	ll := func(tr *TargetResult) *Latency { return tr.RTTLoaded }
	lean := func(tr *TargetResult) *Latency { return tr.RTTLean }
	floor := func(tr *TargetResult) *Latency { return tr.RTTFloor }
	out = append(out,
		row{label: "round trip idle: p50", unit: "µs", target: "≤ 200 µs", lowerBetter: true, vals: get(lat(li, func(l *Latency) float64 { return l.P50us }))},
		row{label: "round trip idle: p99", unit: "µs", target: "≤ 2 ms", lowerBetter: true, vals: get(lat(li, func(l *Latency) float64 { return l.P99us }))},
		row{label: "round trip idle: max", unit: "µs", lowerBetter: true, vals: get(lat(li, func(l *Latency) float64 { return l.MaxUs }))},
		row{label: "round trip idle, lean ends: p50", unit: "µs", target: "≤ 200 µs", lowerBetter: true, vals: get(lat(lean, func(l *Latency) float64 { return l.P50us }))},
		row{label: "round trip idle, lean ends: p99", unit: "µs", lowerBetter: true, vals: get(lat(lean, func(l *Latency) float64 { return l.P99us }))},
		row{label: "round trip floor, no relay: p50", unit: "µs", lowerBetter: true, vals: get(lat(floor, func(l *Latency) float64 { return l.P50us }))},
		row{label: "loaded: delivered messages", unit: "/s", target: "50k/s offered", vals: get(fo(loaded, func(f *FanoutResult) float64 { return f.DeliveredPerSec }))},
		row{label: "round trip loaded: p50", unit: "µs", lowerBetter: true, vals: get(lat(ll, func(l *Latency) float64 { return l.P50us }))},
		row{label: "round trip loaded: p99", unit: "µs", target: "≤ 10 ms", lowerBetter: true, vals: get(lat(ll, func(l *Latency) float64 { return l.P99us }))},
		row{label: "round trip loaded: max", unit: "µs", lowerBetter: true, vals: get(lat(ll, func(l *Latency) float64 { return l.MaxUs }))},
		row{label: "round trip loaded: samples (errors)", unit: "", vals: get(lat(ll, func(l *Latency) float64 { return float64(l.N) }))},
	)
	re := func(f func(*RealResult) float64) func(*TargetResult) (float64, bool) {
		return func(tr *TargetResult) (float64, bool) {
			if tr.Real == nil {
				return 0, false
			}
			return f(tr.Real), true
		}
	}
	n := res.Config.RealAgents
	lbl := func(s string) string {
		return fmt.Sprintf("realistic %d×%d: %s", n, res.Config.RealClients, s)
	}
	out = append(out,
		row{label: lbl("offered in"), unit: "/s", vals: get(re(func(r *RealResult) float64 { return r.OfferedInPerSec }))},
		row{label: lbl("sent by agents"), unit: "/s", vals: get(re(func(r *RealResult) float64 { return r.SentPerSec }))},
		row{label: lbl("offered deliveries"), unit: "/s", vals: get(re(func(r *RealResult) float64 { return r.OfferedPerSec }))},
		row{label: lbl("delivered messages"), unit: "/s", vals: get(re(func(r *RealResult) float64 { return r.DeliveredPerSec }))},
		row{label: lbl("relay CPU"), unit: "% core", lowerBetter: true, vals: get(re(func(r *RealResult) float64 { return r.CPUPct }))},
		row{label: lbl("load generator CPU"), unit: "% core", vals: get(re(func(r *RealResult) float64 { return r.GenCPUPct }))},
		row{label: lbl("delivered per relay CPU-second"), unit: "/s", vals: get(re(func(r *RealResult) float64 { return r.MsgsPerCPUSec }))},
		row{label: lbl("delivery p50"), unit: "µs", lowerBetter: true, vals: get(re(func(r *RealResult) float64 { return r.P50us }))},
		row{label: lbl("delivery p99"), unit: "µs", target: "≤ 10 ms", lowerBetter: true, vals: get(re(func(r *RealResult) float64 { return r.P99us }))},
	)
	return out
}

func num(v float64) string {
	switch {
	case v < 0:
		return "never"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// printTable writes the one table of the run: each figure for every target,
// and each peer's figure divided by Tether's.
func printTable(w io.Writer, res *Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	head := []string{"figure", "unit"}
	head = append(head, res.Order...)
	var peers []string
	for _, n := range res.Order {
		if n != "tether" && n != "tether-inproc" {
			peers = append(peers, n)
			head = append(head, n+"/tether")
		}
	}
	head = append(head, "target")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows(res) {
		line := []string{r.label, r.unit}
		med := map[string]float64{}
		for _, n := range res.Order {
			if vs, ok := r.vals[n]; ok && len(vs) > 0 {
				sp := spread(vs)
				med[n] = sp.Median
				cell := num(sp.Median)
				if sp.Min != sp.Max {
					cell += " (" + num(sp.Min) + "–" + num(sp.Max) + ")"
				}
				line = append(line, cell)
			} else {
				line = append(line, "–")
			}
		}
		for _, p := range peers {
			tv, ok1 := med["tether"]
			pv, ok2 := med[p]
			if ok1 && ok2 && tv > 0 && pv >= 0 {
				line = append(line, fmt.Sprintf("%.2f×", pv/tv))
			} else {
				line = append(line, "–")
			}
		}
		line = append(line, r.target)
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
	}
	tw.Flush()
	if a := res.Agent; a != nil {
		if a.Error != "" {
			fmt.Fprintf(w, "\ntether run --no-tray: %s\n", a.Error)
		} else {
			fmt.Fprintf(w, "\ntether run --no-tray, %.0f s at 1 Hz with one watching client: RSS %.1f MB (max %.1f MB; target ≤ 15 MB), "+
				"CPU %.3f %% of one core (target ≤ 0.2 %%), %.1f wakeups/s (voluntary context switches, %d threads), %.2f telemetry/s received\n",
				a.Seconds, float64(a.RSSBytes)/1e6, float64(a.MaxRSSBytes)/1e6, a.CPUPct, a.WakeupsPerS, a.Threads, a.TelemetryHz)
		}
	}
	for n, why := range res.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", n, why)
	}
	for _, n := range res.Order {
		for i, tr := range res.Runs[n] {
			if tr.Error != "" {
				fmt.Fprintf(w, "%s run %d failed: %s\n", n, i+1, tr.Error)
			}
		}
	}
	fmt.Fprintf(w, "each figure: median of %d runs (min–max), interleaved across the relays; ratios of the medians\n", res.Config.Runs)
	fmt.Fprintf(w, "load average before %s, after %s; %d CPUs; %.0f s\n", res.Load, res.LoadEnd, res.CPUs, res.Seconds)
}

// writeOutputs writes results.json, table.txt and the two plots into cfg.Out.
func writeOutputs(cfg *Config, res *Results) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	res.Table = table(res)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "results.json"), b, 0o644); err != nil {
		return err
	}
	var tb strings.Builder
	printTable(&tb, res)
	if err := os.WriteFile(filepath.Join(cfg.Out, "table.txt"), []byte(tb.String()), 0o644); err != nil {
		return err
	}
	var lat, rec []series
	for i, n := range res.Order {
		tr := res.Runs[n][0] // the plots show the first run
		for _, l := range []struct {
			name string
			l    *Latency
			dash bool
		}{{n + " idle", tr.RTTIdle, false}, {n + " loaded", tr.RTTLoaded, true}} {
			if l.l == nil || len(l.l.Samples) == 0 {
				continue
			}
			s := series{name: l.name, color: palette[i%len(palette)], dash: l.dash}
			step := max(1, len(l.l.Samples)/400)
			for k := 0; k < len(l.l.Samples); k += step {
				s.pts = append(s.pts, [2]float64{l.l.Samples[k], float64(k+1) / float64(len(l.l.Samples))})
			}
			s.pts = append(s.pts, [2]float64{l.l.Samples[len(l.l.Samples)-1], 1})
			lat = append(lat, s)
		}
		if tr.Restart != nil {
			s := series{name: n, color: palette[i%len(palette)]}
			for _, p := range tr.Restart.Curve {
				s.pts = append(s.pts, [2]float64{p[0], 100 * p[1]})
			}
			rec = append(rec, s)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "latency.svg"), []byte(plot(plotSpec{
		title: "Command round trip client → agent → client (CDF)", xlabel: "round trip (µs, log scale)", ylabel: "fraction of commands",
		logX: true, ymax: 1}, lat)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.Out, "reconnect.svg"), []byte(plot(plotSpec{
		title: "Agents back after the relay restarted (SIGTERM at 0 s)", xlabel: "seconds since SIGTERM", ylabel: "% of agents back",
		ymax: 100}, rec)), 0o644)
}
