// Command tether-bench measures Tether's relay and agent against the peers a
// user would otherwise reach for (a Socket.IO relay on Node and a Python
// relay on the websockets library, both in bench/peers), in one run: it
// starts each relay as a real process, drives it with simulated agents and
// clients over real loopback sockets, and prints one table of figures and
// ratios, with results.json and SVG plots in the output directory. Each
// scenario runs three times, interleaved across the relays; the table gives
// medians and their spread.
//
// With -cluster N it measures Tether's relay as a cluster instead: N
// tether-relay processes on one PostgreSQL and one nats-server, agents held
// by load-generator children (this binary re-executed with
// TETHER_BENCH_LOAD_GENERATOR=1), round trips within and across nodes, a
// kill -9 of a node and fan-out across nodes.
//
// With -transfer it measures sending files instead: MB/s from a
// browser-like sender through tether-relay to tether on loopback, and the
// relay's RSS during 5 transfers at once.
//
// See docs/BENCHMARKS.md for what each scenario measures and how.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if mode := os.Getenv(leanEnv); mode != "" { // a lean prober or forwarder (lean.go)
		if err := runLean(mode, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "tether-bench lean "+mode+":", err)
			os.Exit(1)
		}
		return
	}
	if os.Getenv(childEnv) == "1" { // a load generator of the cluster bench
		if err := runChild(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "tether-bench load generator:", err)
			os.Exit(1)
		}
		return
	}
	var cfg Config
	var targets, steps string
	flag.StringVar(&cfg.Out, "out", "bench-out", "output directory")
	flag.StringVar(&targets, "targets", "tether,socket.io,py-websockets", "relays to measure (tether-inproc runs Tether's relay in this process, for -cpuprofile)")
	flag.StringVar(&steps, "idle", "5000,18000", "numbers of idle agents to hold, in steps (one relay takes at most its open-file limit less 1,024)")
	flag.DurationVar(&cfg.RestWindow, "rest", 0, "CPU-at-rest window (default 10s)")
	flag.DurationVar(&cfg.Window, "window", 0, "fan-out and round-trip window (default 10s)")
	flag.DurationVar(&cfg.RestartBound, "restart-bound", 0, "give up on the restart after this (default 75s)")
	flag.DurationVar(&cfg.AgentRun, "agent-run", 0, "measure tether run --no-tray this long (default 60s; negative skips)")
	flag.IntVar(&cfg.FanAgents, "fan-agents", 0, "agents streaming telemetry (default 100)")
	flag.IntVar(&cfg.FanClients, "fan-clients", 0, "clients watching all of them (default 20)")
	flag.Float64Var(&cfg.FanRate, "fan-rate", 0, "telemetry per agent per second in the throughput window (default 250: more than any relay here delivers)")
	flag.IntVar(&cfg.RealAgents, "real-agents", 0, "realistic fan-out: agents, each watched by -real-clients browsers of its own (default 500)")
	flag.IntVar(&cfg.RealClients, "real-clients", 0, "realistic fan-out: clients per agent (default 2)")
	flag.Float64Var(&cfg.RealMinHz, "real-min-hz", 0, "realistic fan-out: slowest agent's telemetry rate (default 1)")
	flag.Float64Var(&cfg.RealMaxHz, "real-max-hz", 0, "realistic fan-out: fastest agent's telemetry rate; the rest spread evenly between (default 150)")
	flag.Func("scenarios", "which scenarios run, comma-separated: idle, fanout, realistic (default all)", func(v string) error {
		for _, k := range strings.Split(v, ",") {
			if !slices.ContainsFunc(scenarios, func(s scenario) bool { return s.key == k }) {
				return fmt.Errorf("unknown scenario %q (idle, fanout, realistic)", k)
			}
			cfg.Scenarios = append(cfg.Scenarios, k)
		}
		return nil
	})
	flag.IntVar(&cfg.Runs, "runs", 0, "run each scenario this many times, interleaved across the relays (default 3)")
	flag.IntVar(&cfg.Cluster, "cluster", 0, "run the cluster benchmark instead, with this many relay nodes on one PostgreSQL and one nats-server (docs/BENCHMARKS.md)")
	flag.IntVar(&cfg.ClusterAgents, "cluster-agents", 0, "cluster: idle agents held across the nodes (default 6000; the full run: 90000 on 6 nodes)")
	flag.IntVar(&cfg.ClusterGens, "cluster-gens", 0, "cluster: load-generator processes (default one per 16000 agents, at least 2)")
	flag.IntVar(&cfg.ClusterVictim, "cluster-victim", 0, "cluster: agents on the last node, the one killed with kill -9 (default an even share)")
	flag.IntVar(&cfg.ClusterWatch, "cluster-watch", 0, "cluster: devices of the killed node whose presence a client on node 0 follows (default 500)")
	flag.Float64Var(&cfg.LoadedRate, "loaded-rate", 0, "deliveries per second offered while timing round trips under load (default 50000)")
	flag.BoolVar(&cfg.ProbeBurst, "probe-burst", false, "every client sends its round-trip probe at the same instant (default: spread evenly over the period)")
	flag.StringVar(&cfg.RelayBin, "relay-bin", "", "tether-relay binary (default: built with CGO_ENABLED=0)")
	flag.StringVar(&cfg.AgentBin, "agent-bin", "", "tether binary (default: built with cgo)")
	flag.BoolVar(&cfg.RequirePeers, "require-peers", os.Getenv("TETHER_REQUIRE_BENCH") != "", "fail when a peer's runtime is missing (default from TETHER_REQUIRE_BENCH)")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (use with -targets tether-inproc)")
	flag.StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile with the idle agents connected (use with -targets tether-inproc)")
	transfer := flag.Bool("transfer", false, "run only the file-transfer scenario: MB/s from a browser-like sender through tether-relay to tether on loopback, and the relay's RSS during 5 parallel transfers")
	transferMB := flag.Int("transfer-mb", 100, "size of each file in the -transfer scenario, in MB (at most 104)")
	flag.Parse()
	cfg.Targets = strings.Split(targets, ",")
	for _, s := range strings.Split(steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "tether-bench: -idle: bad step %q\n", s)
			os.Exit(2)
		}
		cfg.IdleSteps = append(cfg.IdleSteps, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *transfer {
		if err := RunTransferOnly(ctx, cfg, *transferMB); err != nil {
			fmt.Fprintln(os.Stderr, "tether-bench:", err)
			os.Exit(1)
		}
		return
	}
	if cfg.Cluster > 0 {
		if cfg.Cluster < 2 {
			fmt.Fprintln(os.Stderr, "tether-bench: -cluster needs at least 2 nodes")
			os.Exit(2)
		}
		res, err := RunCluster(ctx, cfg)
		if res != nil {
			printCluster(os.Stdout, res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tether-bench:", err)
			os.Exit(1)
		}
		fmt.Printf("results in %s/ (cluster.json, cluster.txt, cluster-recovery.svg)\n", cfg.Out)
		return
	}
	res, err := Run(ctx, cfg)
	if res != nil {
		printTable(os.Stdout, res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tether-bench:", err)
		os.Exit(1)
	}
	fmt.Printf("results in %s/ (results.json, table.txt, latency.svg, reconnect.svg)\n", cfg.Out)
}
