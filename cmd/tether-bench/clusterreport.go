package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// printCluster writes the cluster benchmark's figures.
func printCluster(w io.Writer, res *ClusterResults) {
	fmt.Fprintf(w, "cluster: %d tether-relay nodes, one PostgreSQL 15, one nats-server; %d idle agents from %d load-generator processes\n",
		res.Nodes, res.Agents, res.Generators)
	if id := res.Idle; id != nil {
		fmt.Fprintf(w, "\nidle agents held: %d of %d (ramp %.1f s, %.0f connects/s); load generators %.0f MB RSS, %.1f %% CPU at rest; nats-server %.1f %% CPU, %d msgs/s in, %d out at rest\n",
			id.Held, res.Agents, id.RampSeconds, id.ConnectsPerSec, float64(id.GenRSSBytes)/1e6, id.GenCPURestPct, id.NATSCPURestPct, id.NATS["in"], id.NATS["out"])
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
		fmt.Fprintln(tw, "node\tagents\tRSS before (MB)\tRSS held (MB)\tRSS per connection (KB)\tCPU at rest (% core)\t")
		for _, n := range id.Nodes {
			fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t\n", n.Node, n.Agents, float64(n.RSSBaseBytes)/1e6, float64(n.RSSBytes)/1e6, n.PerConnBytes/1024, n.CPURestPct)
		}
		tw.Flush()
		fmt.Fprintln(w, "target: 100,000 held across ≥ 6 nodes, ≤ 12 KB per connection per node")
	}
	if res.RTTSame != nil && res.RTTCross != nil {
		s, c := res.RTTSame, res.RTTCross
		ratio := 0.0
		if s.P50us > 0 {
			ratio = c.P50us / s.P50us
		}
		fmt.Fprintf(w, "\ncommand round trip, client on node 0, agents idle-held: same node p50 %.0f µs p99 %.0f µs max %.0f µs (%d); cross-node p50 %.0f µs p99 %.0f µs max %.0f µs (%d, %d errors); cross/same p50 %.2f× (target ≤ 2×, p99 ≤ 10 ms)\n",
			s.P50us, s.P99us, s.MaxUs, s.N, c.P50us, c.P99us, c.MaxUs, c.N, c.Errors, ratio)
	}
	if k := res.Kill; k != nil {
		fmt.Fprintf(w, "\nkill -9 of node %d holding %d agents: back on other nodes %d (%.2f %%): 50 %% %s s, 90 %% %s s, 99 %% %s s, 100 %% %s s (target 99 %% ≤ 15 s)\n",
			k.Node, k.Agents, k.Back, 100*float64(k.Back)/float64(max(1, k.Agents)), num(k.T50), num(k.T90), num(k.T99), num(k.T100))
		fmt.Fprintf(w, "  seen online again by a client on node 0 (%d of its devices followed): %d; 50 %% %s s, 99 %% %s s, 100 %% %s s; offline presences after the kill %d (%d of them for a device already back online), shown offline at the end %d\n",
			k.Watched, k.SeenBack, num(k.SeenT50), num(k.SeenT99), num(k.SeenT100), k.OfflineSeen, k.OfflineAfterBack, k.OfflineAtEnd)
	}
	if len(res.Fanout) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
		fmt.Fprintln(tw, "fan-out on\tagents × Hz → clients\toffered/s\tsent/s\tdelivered/s\trelays CPU (% core)\tload gen CPU\tnats CPU\tNATS in/s\tNATS out/s\tNATS msgs per delivery\tdelivered per relay CPU-s\t")
		for _, f := range res.Fanout {
			if f.Error != "" {
				fmt.Fprintf(tw, "%d nodes\tfailed: %s\t\t\t\t\t\t\t\t\t\t\t\n", f.Nodes, f.Error)
				continue
			}
			fmt.Fprintf(tw, "%d nodes\t%d × %.0f → %d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.3f\t%.0f\t\n", f.Nodes, f.Agents, f.RateHz, f.Clients,
				f.OfferedPerSec, f.SentPerSec, f.DeliveredPerSec, f.RelayCPUPct, f.GenCPUPct, f.NATSCPUPct, f.NATSInPerSec, f.NATSOutPerSec, f.NATSPerDelivery, f.MsgsPerCPUSec)
		}
		tw.Flush()
		var one, three *ClusterFanout
		for _, f := range res.Fanout {
			if f.Error == "" && f.Nodes == 1 {
				one = f
			}
			if f.Error == "" && f.Nodes == 3 {
				three = f
			}
		}
		if one != nil && three != nil && one.DeliveredPerSec > 0 && one.MsgsPerCPUSec > 0 {
			fmt.Fprintf(w, "scaling 1 → 3 nodes (same fan-out): delivered %.2f×, per relay CPU-second %.2f× (on one machine's 2 cores: the nodes share them)\n",
				three.DeliveredPerSec/one.DeliveredPerSec, three.MsgsPerCPUSec/one.MsgsPerCPUSec)
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	fmt.Fprintf(w, "load average before %s, after %s; %d CPUs; %.0f s\n", res.Load, res.LoadEnd, res.CPUs, res.Seconds)
}

// writeClusterOutputs writes cluster.json, cluster.txt and cluster-recovery.svg.
func writeClusterOutputs(cfg *Config, res *ClusterResults) error {
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "cluster.json"), b, 0o644); err != nil {
		return err
	}
	var tb strings.Builder
	printCluster(&tb, res)
	if err := os.WriteFile(filepath.Join(cfg.Out, "cluster.txt"), []byte(tb.String()), 0o644); err != nil {
		return err
	}
	var ss []series
	if k := res.Kill; k != nil {
		for i, c := range []struct {
			name string
			pts  [][2]float64
		}{{"agents back (load generators)", k.Curve}, {"seen online by a client on node 0", k.SeenCurve}} {
			s := series{name: c.name, color: palette[i%len(palette)], dash: i == 1}
			for _, p := range c.pts {
				s.pts = append(s.pts, [2]float64{p[0], 100 * p[1]})
			}
			ss = append(ss, s)
		}
	}
	return os.WriteFile(filepath.Join(cfg.Out, "cluster-recovery.svg"), []byte(plot(plotSpec{
		title: "Agents of the killed node back on the others (kill -9 at 0 s)", xlabel: "seconds since kill -9", ylabel: "% of its agents",
		ymax: 100}, ss)), 0o644)
}
