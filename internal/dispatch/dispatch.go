package dispatch

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/alert"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/telemetry"
	"github.com/heraldhq/herald/internal/tracing"
)

// Config configures a Dispatcher. Zero values take the defaults shown.
type Config struct {
	// Store is the queue, and supplies settings and signing keys for each
	// attempt: pass the cached store (internal/store/cache).
	Store  herald.Store
	Client *egress.Client
	Logger *slog.Logger

	LaneConcurrency int // attempts in flight per URL; 32
	// LaneQueue is how many claimed deliveries may wait per URL when the
	// dispatcher is busy; a lane may hold more, up to half of the room
	// left, while there is plenty (5,000).
	LaneQueue    int
	MaxHeld      int           // claimed deliveries held in memory in all; 50,000
	ClaimBatch   int           // deliveries per claim query; 1,000
	PollInterval time.Duration // fallback poll when nothing signals; 1 s
	// ClaimInterval spaces claims that found less than a full batch, so
	// a storm of wake-ups (every ingest into a full lane) costs one claim
	// query per interval, not one each; 10 ms.
	ClaimInterval time.Duration
	Lease         time.Duration // claim lease, renewed while held; 30 s
	ShutdownGrace time.Duration // in-flight attempts may finish for this long at stop; 10 s
	// Metrics counts attempts, deliveries finished and open lanes; nil: none.
	Metrics *telemetry.Metrics
	// Tracing makes a span of each attempt (docs/running.md, Traces); nil:
	// none.
	Tracing *tracing.Tracing
	// DisableAfter is how long an endpoint may fail every attempt before
	// it is disabled; 0: herald.DefaultDisableAfter.
	DisableAfter time.Duration
	// CircuitFailures, CircuitWindow and CircuitOpen are the circuit
	// breaker's: more than CircuitFailures failed attempts in a row
	// within CircuitWindow open an endpoint's circuit for CircuitOpen;
	// 0: DefaultCircuitFailures, DefaultCircuitWindow, DefaultCircuitOpen.
	CircuitFailures int
	CircuitWindow   time.Duration
	CircuitOpen     time.Duration
	// Tokens, when set, share endpoints' rate limits among the processes
	// on one database (PostgreSQL); nil: each process limits its own
	// attempts, which is exact with one process.
	Tokens herald.TokenBuckets
	// Now is the clock an endpoint's failure window (DisableAfter) is
	// judged by; nil: time.Now. Tests move it days ahead.
	Now func() time.Time
	// Alerts sends endpoint.disabled notices to environments'
	// alert_url; nil: none.
	Alerts *alert.Notifier
}

// Dispatcher owns the delivery workers. Create it with New and run it with Run.
type Dispatcher struct {
	cfg   Config
	store herald.Store
	log   *slog.Logger

	wake    chan struct{}
	results chan herald.AttemptResult

	mu       sync.Mutex
	lanes    map[string]*lane
	held     map[string]int64 // claimed delivery → its lease generation
	reserved int              // slots promised to ingests not yet committed
	// starved is set when a claim was limited by full lanes or a full
	// dispatcher, so that freed capacity wakes the claimer.
	starved  bool
	running  bool
	stopping bool
	halt     chan struct{} // closed when stopping
	sendCtx  context.Context
	inflight sync.WaitGroup
	// lags are live deliveries' recent waits (LiveLag).
	lags lagWindow
	// gates are endpoints' own limits in this process; urlConcurrency
	// their MaxConcurrency by URL, which bounds a lane's workers, and
	// limitedURLs its size, read without the lock.
	gates          gates
	urlConcurrency map[string]int
	limitedURLs    atomic.Int64
	// breakers are endpoints' circuit breakers, policy theirs; adaptive
	// the lanes whose concurrency is below their most (AIMD), by URL.
	breakers breakers
	policy   breakerPolicy
	adaptive map[string]*aimd
}

// New returns a Dispatcher for cfg.
func New(cfg Config) *Dispatcher {
	if cfg.LaneConcurrency <= 0 {
		cfg.LaneConcurrency = 32
	}
	if cfg.LaneQueue <= 0 {
		cfg.LaneQueue = 5000
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 50000
	}
	if cfg.ClaimBatch <= 0 {
		cfg.ClaimBatch = 1000
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.ClaimInterval <= 0 {
		cfg.ClaimInterval = 10 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = herald.DefaultDisableAfter
	}
	if cfg.CircuitFailures <= 0 {
		cfg.CircuitFailures = DefaultCircuitFailures
	}
	if cfg.CircuitWindow <= 0 {
		cfg.CircuitWindow = DefaultCircuitWindow
	}
	if cfg.CircuitOpen <= 0 {
		cfg.CircuitOpen = DefaultCircuitOpen
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = egress.New(egress.Options{})
	}
	return &Dispatcher{
		cfg:     cfg,
		store:   cfg.Store,
		log:     cfg.Logger,
		wake:    make(chan struct{}, 1),
		halt:    make(chan struct{}),
		results: make(chan herald.AttemptResult, 4096),
		lanes:   make(map[string]*lane),
		held:    make(map[string]int64),

		urlConcurrency: make(map[string]int),
		policy:         breakerPolicy{failures: cfg.CircuitFailures, window: cfg.CircuitWindow, open: cfg.CircuitOpen},
		adaptive:       make(map[string]*aimd),
		gates:          gates{shared: cfg.Tokens, log: cfg.Logger},
	}
}

// Run claims and delivers until ctx is cancelled, then stops taking work,
// lets in-flight attempts finish for up to ShutdownGrace, puts everything
// else back to pending, and returns once all outcomes are written.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.cfg.Metrics.ObserveLanes(d.laneCount)
	// Attempts run under sendCtx so that shutdown can let them finish
	// after ctx is cancelled.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		d.writeResults()
	}()
	renewCtx, stopRenew := context.WithCancel(ctx)
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		d.renewLeases(renewCtx)
	}()

	d.mu.Lock()
	d.running = true
	d.sendCtx = sendCtx
	d.mu.Unlock()
	d.claimLoop(ctx, sendCtx)

	// Shutdown.
	d.mu.Lock()
	d.stopping = true
	close(d.halt) // lanes waiting out a Retry-After stop waiting
	var queued []herald.Lease
	for url, l := range d.lanes {
		for l.len() > 0 {
			j := l.pop()
			queued = append(queued, herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen})
		}
		if l.active == 0 && l.reserved == 0 {
			delete(d.lanes, url)
		}
	}
	for _, l := range queued {
		delete(d.held, l.DeliveryID)
	}
	d.mu.Unlock()
	bg := context.WithoutCancel(ctx)
	if len(queued) > 0 {
		if err := d.store.Release(bg, queued, time.Now()); err != nil {
			d.log.Error("release queued deliveries", "count", len(queued), "err", err)
		}
	}
	finished := make(chan struct{})
	go func() { d.inflight.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(d.cfg.ShutdownGrace):
		cancelSends() // interrupted attempts are released, not counted
		<-finished
	}
	close(d.results)
	<-writerDone
	stopRenew()
	<-renewDone
	return nil
}
