package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/bench"
)

func benchCmd(ctx context.Context, args []string) error {
	var cfg bench.Config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&cfg.Events, "events", 20000, "events per throughput run")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent producer requests")
	fs.IntVar(&cfg.BatchSize, "batch", 100, "events per POST /events/batch request")
	fs.IntVar(&cfg.Rate, "rate", 1000, "events/s of the latency, retry-storm, throttle, outage and replay runs")
	fs.DurationVar(&cfg.Duration, "duration", 0, "length of each paced run (default 10s)")
	fs.IntVar(&cfg.URLs, "urls", 10, "target URLs in the isolation, retry-storm, throttle and outage runs")
	fs.IntVar(&cfg.ThrottleRate, "throttle-rate", 20, "requests/s each throttled URL of the throttle run answers before 429 with Retry-After: 1")
	fs.DurationVar(&cfg.OutageFor, "outage-for", 90*time.Second, "how long one URL of the outage run is down (503 without Retry-After)")
	fs.IntVar(&cfg.Pending, "pending", 1_000_000, "pending deliveries for the memory figure (0: skip it)")
	fs.IntVar(&cfg.Replay, "replay", 1_000_000, "events replayed while live traffic is measured (0: skip it)")
	fs.DurationVar(&cfg.ConvoyDuration, "convoy-duration", time.Minute, "length of each rate (50/s, then 200/s) of the convoy run")
	fs.IntVar(&cfg.OutpostEvents, "outpost-events", 100_000, "events of the outpost run (10 publishers at 100/s each)")
	fs.DurationVar(&cfg.SteadyDuration, "steady-duration", time.Minute, "length of the steady run (500 events/s into a herald process; 0: skip it)")
	fs.StringVar(&cfg.Postgres, "postgres", "", "PostgreSQL server URL: also measure herald on it (a fresh schema) with 1 and 3 processes")
	only := fs.String("only", "", "comma-separated scenarios to run: throughput, latency, isolation, storm, throttle, outage, forward, replay, memory, steady, convoy, outpost (default: all)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cfg.Events <= 0 || cfg.Concurrency <= 0 || cfg.BatchSize <= 0 || cfg.BatchSize > 1000 || cfg.Rate <= 0 || cfg.URLs < 2 ||
		cfg.ThrottleRate <= 0 || cfg.OutageFor <= 0 || cfg.ConvoyDuration <= 0 || cfg.OutpostEvents <= 0 {
		return errors.New("bench: --events, --concurrency, --rate, --throttle-rate, --outage-for, --convoy-duration, --outpost-events must be positive, --batch 1–1000, --urls at least 2")
	}
	if cfg.Pending == 0 {
		cfg.Pending = -1
	}
	if cfg.Replay == 0 {
		cfg.Replay = -1
	}
	if cfg.SteadyDuration == 0 {
		cfg.SteadyDuration = -1
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Binary, cfg.Log = bin, os.Stderr
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteTable(os.Stdout)
}
