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
	Events       int           // events per throughput run; 20,000
	Concurrency  int           // concurrent producer requests; 32
	BatchSize    int           // events per POST /events/batch; 100
	Rate         int           // events/s of the paced scenarios; 1,000
	Duration     time.Duration // length of each paced run; 10 s
	URLs         int           // target URLs in the isolation, storm, throttle and outage runs; 10
	ThrottleRate int           // requests/s a throttled URL answers before 429; 20
	OutageFor    time.Duration // how long the outage run's URL is down; 90 s
	Pending      int           // pending deliveries for the memory figure; 1,000,000 (negative: skip)
	Replay       int           // events replayed under live load; 1,000,000 (negative: skip)
	Postgres     string        // a PostgreSQL server URL: also measure herald on it with 1 and 3 processes
	Binary       string        // the herald binary to run for the memory figure
	Timeout      time.Duration // give up on a run after this long; 10 min
	Log          io.Writer     // progress lines
	// Only, when not empty, names the scenarios to run: throughput,
	// latency, isolation, storm, throttle, outage, forward, replay, memory,
	// steady, convoy, outpost (the raw ceiling always runs).
	Only []string
	// ConvoyDuration is the length of each rate of the convoy run; 60 s.
	ConvoyDuration time.Duration
	// OutpostEvents is how many events the outpost run sends; 100,000.
	OutpostEvents int
	// SteadyDuration is the length of the steady run (a herald process
	// taking steadyRate single events a second); 60 s, negative: skip.
	SteadyDuration time.Duration
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
	def(&c.ThrottleRate, 20)
	def(&c.Pending, 1_000_000)
	def(&c.Replay, 1_000_000)
	def(&c.OutpostEvents, 100_000)
	if c.ConvoyDuration == 0 {
		c.ConvoyDuration = time.Minute
	}
	if c.SteadyDuration == 0 {
		c.SteadyDuration = time.Minute
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.OutageFor == 0 {
		c.OutageFor = 90 * time.Second
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
	Machine   string  `json:"machine"`
	RawPerSec float64 `json:"raw_ceiling_requests_per_sec"`
	// RawCPUPer1000 is the bench process's CPU (user + system) per 1,000
	// requests of the raw ceiling, its client and its server together.
	RawCPUPer1000 float64      `json:"raw_ceiling_cpu_sec_per_1000_requests"`
	Throughput    []Throughput `json:"throughput"`
	Latency       *Latency     `json:"latency,omitempty"`
	Isolation     *Ratio       `json:"isolation,omitempty"`
	RetryStorm    *Ratio       `json:"retry_storm,omitempty"`
	Throttle      *Throttle    `json:"throttle,omitempty"`
	Outage        *Outage      `json:"outage,omitempty"`
	Forwarding    *Forwarding  `json:"forwarding,omitempty"`
	ReplayLoad    *Ratio       `json:"replay_under_load,omitempty"`
	Memory        *Memory      `json:"memory,omitempty"`
	Steady        *Steady      `json:"steady,omitempty"`
	Convoy        *Convoy      `json:"convoy,omitempty"`
	Outpost       *Outpost     `json:"outpost,omitempty"`
	DurationSec   float64      `json:"duration_sec"`
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
	// CPUPer1000 is the bench process's CPU (user + system) from the first
	// request to the last delivery's arrival, per 1,000 deliveries: herald
	// (every instance), the producers and the receiver. CPUOfCeiling is it
	// ÷ the raw ceiling's CPU per 1,000 requests of the same run.
	CPUPer1000   float64 `json:"cpu_sec_per_1000_deliveries"`
	CPUOfCeiling float64 `json:"cpu_of_raw_ceiling"`
	// DatabaseCPU says where the database's CPU is: "in_process" (SQLite:
	// in CPUPer1000), "measured" (PostgreSQL: DBCPUPer1000, its server's
	// processes on this machine over the same window) or "unknown" (a
	// PostgreSQL server elsewhere, a system without /proc, or a server
	// restarted during the run).
	DatabaseCPU  string   `json:"database_cpu"`
	DBCPUPer1000 *float64 `json:"database_cpu_sec_per_1000_deliveries,omitempty"`
	// CPUWithDBOfCeiling is (CPUPer1000 + DBCPUPer1000) ÷ the raw
	// ceiling's; on SQLite, CPUOfCeiling. Absent when DatabaseCPU is
	// unknown.
	CPUWithDBOfCeiling *float64 `json:"cpu_with_database_of_raw_ceiling,omitempty"`
	// WALBytesPerDelivery is write-ahead log per delivery, from before the
	// first request until herald had written the last outcome:
	// on SQLite what herald's store wrote (herald_store_wal_bytes_total),
	// on PostgreSQL what the whole server generated (its WAL insert
	// position; anything else it served meanwhile counts too). Absent when
	// it could not be read.
	WALBytesPerDelivery *float64 `json:"wal_bytes_per_delivery,omitempty"`
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

// Throttle is the throttle run: half the URLs answer 429 with
// Retry-After: 1 past Rate requests per clock second.
type Throttle struct {
	// Healthy is the p99 first-attempt latency of the other URLs, vs calm.
	Healthy Ratio `json:"healthy"`
	Rate    int   `json:"advertised_rate_per_sec"`
	URLs    int   `json:"throttled_urls"`
	// What herald sent one throttled URL, 429s included: the most in any
	// 1 s span, in one clock second (the receiver's window), and the mean
	// per second from the first event to the last request.
	PeakAny1s       int     `json:"peak_requests_any_1s"`
	PeakClockSecond int     `json:"peak_requests_clock_second"`
	MeanPerSec      float64 `json:"mean_requests_per_sec"`
	Requests        int     `json:"requests"`     // to all throttled URLs
	Refused         int     `json:"answered_429"` // of them
	// The deliveries to the throttled URLs: sent, received (distinct),
	// marked failed by herald, and neither by the deadline.
	Sent      int     `json:"sent"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"`
	Pending   int     `json:"pending_at_deadline"`
	DrainSec  float64 `json:"drain_sec"` // from the first event to the end of the wait
}

// Outage is the outage run: one URL answers 503 without Retry-After for
// a while, then comes back.
type Outage struct {
	// Live is the p99 first-attempt latency of the other URLs during the
	// outage, vs calm.
	Live      Ratio   `json:"live"`
	OutageSec float64 `json:"outage_sec"`
	// The deliveries to the URL that was down: sent, received (distinct,
	// all after it came back), marked failed, and neither by the deadline.
	Sent     int `json:"sent"`
	Received int `json:"received"`
	Failed   int `json:"failed"`
	Pending  int `json:"pending_at_deadline"`
	// RequestsWhileDown is how many attempts it answered 503.
	RequestsWhileDown int `json:"requests_while_down"`
	// First and last arrival, in seconds after it came back.
	FirstAfterSec float64 `json:"first_arrival_after_back_sec"`
	LastAfterSec  float64 `json:"last_arrival_after_back_sec"`
	// Order of arrival against creation order: pairs out of order (and
	// their share of all pairs), and arrivals more than Window places
	// behind the newest event already arrived.
	Inversions        int64   `json:"inversions"`
	InversionFraction float64 `json:"inversion_fraction"`
	BeyondWindow      int     `json:"beyond_window"`
	Window            int     `json:"window"`
}

// Memory is the peak RSS of a herald process holding Pending deliveries.
type Memory struct {
	Pending   int     `json:"pending_deliveries"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	IngestSec float64 `json:"ingest_sec"`
}

// Steady is the peak RSS of a herald process delivering a steady stream
// of single events to a healthy URL.
type Steady struct {
	Rate       int     `json:"rate"`
	Seconds    float64 `json:"seconds"`
	Events     int     `json:"events"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	GoalMiB    float64 `json:"goal_mib"`
}

// Run measures every scenario and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	start := time.Now()
	rep := &Report{Machine: Machine()}
	b := &runner{cfg: cfg}

	var err error
	if rep.RawPerSec, rep.RawCPUPer1000, err = b.rawCeiling(ctx); err != nil {
		return nil, fmt.Errorf("raw ceiling: %w", err)
	}
	if cfg.runs("throughput") {
		targets, cleanup, err := b.targets(ctx)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		for _, tg := range targets {
			ts, err := b.throughput(ctx, tg, rep.RawPerSec, rep.RawCPUPer1000)
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
	if cfg.runs("throttle") {
		if rep.Throttle, err = b.throttle(ctx); err != nil {
			return nil, fmt.Errorf("throttle: %w", err)
		}
	}
	if cfg.runs("outage") {
		if rep.Outage, err = b.outage(ctx); err != nil {
			return nil, fmt.Errorf("outage: %w", err)
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
	if cfg.SteadyDuration > 0 && cfg.runs("steady") {
		if rep.Steady, err = b.steady(ctx); err != nil {
			return nil, fmt.Errorf("steady: %w", err)
		}
	}
	if err := b.peers(ctx, rep); err != nil {
		return nil, err
	}
	rep.DurationSec = time.Since(start).Seconds()
	return rep, nil
}

// peers runs the peers' published scenarios that cfg selects into rep.
func (b *runner) peers(ctx context.Context, rep *Report) error {
	var err error
	if b.cfg.runs("convoy") {
		if rep.Convoy, err = b.convoy(ctx); err != nil {
			return fmt.Errorf("convoy: %w", err)
		}
	}
	if b.cfg.runs("outpost") {
		if rep.Outpost, err = b.outpost(ctx); err != nil {
			return fmt.Errorf("outpost: %w", err)
		}
	}
	return nil
}

// Machine names this machine for the report.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
}
