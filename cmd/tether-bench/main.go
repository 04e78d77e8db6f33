// Command tether-bench measures Tether's relay and agent against the peers a
// user would otherwise reach for (a Socket.IO relay on Node and a Python
// relay on the websockets library, both in bench/peers), in one run: it
// starts each relay as a real process, drives it with simulated agents and
// clients over real loopback sockets, and prints one table of figures and
// ratios, with results.json and SVG plots in the output directory.
//
// See docs/BENCHMARKS.md for what each scenario measures and how.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	var cfg Config
	var targets, steps string
	flag.StringVar(&cfg.Out, "out", "bench-out", "output directory")
	flag.StringVar(&targets, "targets", "tether,socket.io,py-websockets", "relays to measure (tether-inproc runs Tether's relay in this process, for -cpuprofile)")
	flag.StringVar(&steps, "idle", "5000,19000", "numbers of idle agents to hold, in steps")
	flag.DurationVar(&cfg.RestWindow, "rest", 0, "CPU-at-rest window (default 10s)")
	flag.DurationVar(&cfg.Window, "window", 0, "fan-out and round-trip window (default 10s)")
	flag.DurationVar(&cfg.RestartBound, "restart-bound", 0, "give up on the restart after this (default 75s)")
	flag.DurationVar(&cfg.AgentRun, "agent-run", 0, "measure tether run --no-tray this long (default 60s; negative skips)")
	flag.IntVar(&cfg.FanAgents, "fan-agents", 0, "agents streaming telemetry (default 100)")
	flag.IntVar(&cfg.FanClients, "fan-clients", 0, "clients watching all of them (default 20)")
	flag.Float64Var(&cfg.FanRate, "fan-rate", 0, "telemetry per agent per second in the throughput window (default 100)")
	flag.Float64Var(&cfg.LoadedRate, "loaded-rate", 0, "deliveries per second offered while timing round trips under load (default 50000)")
	flag.BoolVar(&cfg.ProbeBurst, "probe-burst", false, "every client sends its round-trip probe at the same instant (default: spread evenly over the period)")
	flag.StringVar(&cfg.RelayBin, "relay-bin", "", "tether-relay binary (default: built with CGO_ENABLED=0)")
	flag.StringVar(&cfg.AgentBin, "agent-bin", "", "tether binary (default: built with cgo)")
	flag.BoolVar(&cfg.RequirePeers, "require-peers", os.Getenv("TETHER_REQUIRE_BENCH") != "", "fail when a peer's runtime is missing (default from TETHER_REQUIRE_BENCH)")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (use with -targets tether-inproc)")
	flag.StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile with the idle agents connected (use with -targets tether-inproc)")
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
