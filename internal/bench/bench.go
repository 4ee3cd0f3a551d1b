package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

// Config sets the size of each scenario. Zero values take the defaults.
type Config struct {
	Events      int           // events per throughput run; 20,000
	Concurrency int           // concurrent producer requests; 32
	BatchSize   int           // events per POST /events/batch; 100
	Rate        int           // events/s of the paced scenarios; 1,000
	Duration    time.Duration // length of each paced run; 10 s
	URLs        int           // target URLs in the isolation and storm runs; 10
	Pending     int           // pending deliveries for the memory figure; 1,000,000 (negative: skip)
	Replay      int           // events replayed under live load; 1,000,000 (negative: skip)
	Postgres    string        // a PostgreSQL server URL: also measure herald on it with 1 and 3 processes
	Binary      string        // the herald binary to run for the memory figure
	Timeout     time.Duration // give up on a run after this long; 10 min
	Log         io.Writer     // progress lines
	// Only, when not empty, names the scenarios to run: throughput,
	// latency, isolation, storm, forward, replay, memory (the raw ceiling
	// always runs).
	Only []string
}

func (c *Config) runs(scenario string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, scenario)
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Events, 20000)
	def(&c.Concurrency, 32)
	def(&c.BatchSize, 100)
	def(&c.Rate, 1000)
	def(&c.URLs, 10)
	def(&c.Pending, 1_000_000)
	def(&c.Replay, 1_000_000)
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Report holds every figure of one run.
type Report struct {
	Machine     string       `json:"machine"`
	RawPerSec   float64      `json:"raw_ceiling_requests_per_sec"`
	Throughput  []Throughput `json:"throughput"`
	Latency     *Latency     `json:"latency,omitempty"`
	Isolation   *Ratio       `json:"isolation,omitempty"`
	RetryStorm  *Ratio       `json:"retry_storm,omitempty"`
	Forwarding  *Forwarding  `json:"forwarding,omitempty"`
	ReplayLoad  *Ratio       `json:"replay_under_load,omitempty"`
	Memory      *Memory      `json:"memory,omitempty"`
	DurationSec float64      `json:"duration_sec"`
}

// Throughput is one end-to-end run.
type Throughput struct {
	Store            string  `json:"store"`
	Processes        int     `json:"processes"`
	Mode             string  `json:"mode"` // single or batch
	Events           int     `json:"events"`
	AcceptedPerSec   float64 `json:"events_accepted_per_sec"`
	DeliveriesPerSec float64 `json:"deliveries_completed_per_sec"`
	OfCeiling        float64 `json:"deliveries_of_raw_ceiling"`
	Duplicates       int     `json:"duplicates"`
}

// Latency is accept-to-first-attempt latency at a fixed rate. It runs from
// the moment the producer sent the event (an upper bound on acceptance)
// to the first attempt's arrival at the receiver.
type Latency struct {
	Rate         int     `json:"rate_per_sec"`
	AchievedRate float64 `json:"achieved_rate_per_sec"`
	Events       int     `json:"events"`
	P50MS        float64 `json:"p50_ms"`
	P95MS        float64 `json:"p95_ms"`
	P99MS        float64 `json:"p99_ms"`
}

// Ratio compares a disturbed run with an undisturbed one.
type Ratio struct {
	What      string  `json:"what"`
	Disturbed float64 `json:"disturbed"`
	Baseline  float64 `json:"baseline"`
	Ratio     float64 `json:"ratio"`
}

// Memory is the peak RSS of a herald process holding Pending deliveries.
type Memory struct {
	Pending   int     `json:"pending_deliveries"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	IngestSec float64 `json:"ingest_sec"`
}

// Run measures every scenario and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	start := time.Now()
	rep := &Report{Machine: Machine()}
	b := &runner{cfg: cfg}

	var err error
	if rep.RawPerSec, err = b.rawCeiling(ctx); err != nil {
		return nil, fmt.Errorf("raw ceiling: %w", err)
	}
	if cfg.runs("throughput") {
		targets, cleanup, err := b.targets(ctx)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		for _, tg := range targets {
			ts, err := b.throughput(ctx, tg, rep.RawPerSec)
			if err != nil {
				return nil, fmt.Errorf("%s ×%d: %w", tg.store, tg.processes, err)
			}
			rep.Throughput = append(rep.Throughput, ts...)
		}
	}
	if cfg.runs("latency") {
		if rep.Latency, err = b.latency(ctx); err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
	}
	if cfg.runs("isolation") {
		if rep.Isolation, err = b.isolation(ctx); err != nil {
			return nil, fmt.Errorf("isolation: %w", err)
		}
	}
	if cfg.runs("storm") {
		if rep.RetryStorm, err = b.retryStorm(ctx); err != nil {
			return nil, fmt.Errorf("retry storm: %w", err)
		}
	}
	if cfg.runs("forward") {
		if rep.Forwarding, err = b.forwarding(ctx, rep.RawPerSec); err != nil {
			return nil, fmt.Errorf("forwarding: %w", err)
		}
	}
	if cfg.Replay > 0 && cfg.runs("replay") {
		if rep.ReplayLoad, err = b.replayLoad(ctx); err != nil {
			return nil, fmt.Errorf("replay under load: %w", err)
		}
	}
	if cfg.Pending > 0 && cfg.runs("memory") {
		if rep.Memory, err = b.memory(ctx); err != nil {
			return nil, fmt.Errorf("memory: %w", err)
		}
	}
	rep.DurationSec = time.Since(start).Seconds()
	return rep, nil
}

// Machine names this machine for the report.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
}
