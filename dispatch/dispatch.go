// Package dispatch delivers claimed webhooks: it claims due deliveries from
// the store in batches, queues each on the lane of its target URL, makes the
// attempts through the egress client, and writes the outcomes back in
// batches.
//
// Isolation comes from the lanes: each URL has its own queue and at most
// LaneConcurrency attempts in flight, so an endpoint that hangs ties up only
// its own lane, and a full lane is left out of the next claim instead of
// filling memory. Retries are rows in the store with a later
// next_attempt_at, so a retry storm never sits in front of first attempts in
// memory.
package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
	"github.com/heraldhq/herald/envcache"
)

// Config configures a Dispatcher. Zero values take the defaults shown.
type Config struct {
	Store  herald.Store
	Client *egress.Client
	Logger *slog.Logger
	// Environments supplies settings and signing keys; nil: a private cache.
	Environments *envcache.Cache

	LaneConcurrency int // attempts in flight per URL; 32
	// LaneQueue is how many claimed deliveries may wait per URL when the
	// dispatcher is busy; a lane may hold more, up to half of the room
	// left, while there is plenty (5,000).
	LaneQueue    int
	MaxHeld      int           // claimed deliveries held in memory in all; 100,000
	ClaimBatch   int           // deliveries per claim query; 1,000
	PollInterval time.Duration // fallback poll when nothing signals; 1 s
	// ClaimInterval spaces claims that found less than a full batch, so
	// a storm of wake-ups (every ingest into a full lane) costs one claim
	// query per interval, not one each; 10 ms.
	ClaimInterval time.Duration
	Lease         time.Duration // claim lease, renewed while held; 30 s
	ShutdownGrace time.Duration // in-flight attempts may finish for this long at stop; 10 s
}

// Dispatcher owns the delivery workers. Create it with New and run it with Run.
type Dispatcher struct {
	cfg   Config
	store herald.Store
	log   *slog.Logger
	envs  *envcache.Cache

	wake    chan struct{}
	results chan herald.AttemptResult

	mu       sync.Mutex
	lanes    map[string]*lane
	held     map[string]struct{}
	reserved int // slots promised to ingests not yet committed
	// starved is set when a claim was limited by full lanes or a full
	// dispatcher, so that freed capacity wakes the claimer.
	starved  bool
	running  bool
	stopping bool
	sendCtx  context.Context
	inflight sync.WaitGroup
}

type lane struct {
	url      string
	queue    []herald.Job
	head     int
	active   int
	reserved int
}

func (l *lane) len() int { return len(l.queue) - l.head }

// full reports whether the lane holds as many deliveries as it may.
func (l *lane) full(max int) bool { return l.len()+l.reserved >= max }

func (l *lane) pop() herald.Job {
	j := l.queue[l.head]
	l.queue[l.head] = herald.Job{}
	l.head++
	if l.head == len(l.queue) {
		l.queue, l.head = l.queue[:0], 0
	}
	return j
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
	if cfg.Environments == nil {
		cfg.Environments = envcache.New(cfg.Store, 0)
	}
	if cfg.Client == nil {
		cfg.Client = egress.New(egress.Options{})
	}
	return &Dispatcher{
		cfg:     cfg,
		store:   cfg.Store,
		log:     cfg.Logger,
		envs:    cfg.Environments,
		wake:    make(chan struct{}, 1),
		results: make(chan herald.AttemptResult, 4096),
		lanes:   make(map[string]*lane),
		held:    make(map[string]struct{}),
	}
}

// Notify tells the dispatcher that deliveries became due now (after an
// ingest commit). It never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run claims and delivers until ctx is cancelled, then stops taking work,
// lets in-flight attempts finish for up to ShutdownGrace, puts everything
// else back to pending, and returns once all outcomes are written.
func (d *Dispatcher) Run(ctx context.Context) error {
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
	var queued []string
	for url, l := range d.lanes {
		for l.len() > 0 {
			queued = append(queued, l.pop().DeliveryID)
		}
		if l.active == 0 && l.reserved == 0 {
			delete(d.lanes, url)
		}
	}
	for _, id := range queued {
		delete(d.held, id)
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

func (d *Dispatcher) claimLoop(ctx, sendCtx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	// A shared database tells when another process stored work.
	var external <-chan struct{}
	if w, ok := d.store.(interface{ Wakeups() <-chan struct{} }); ok {
		external = w.Wakeups()
	}
	var last time.Time
	for {
		if pause := d.cfg.ClaimInterval - time.Since(last); pause > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
		last = time.Now()
		claimed, full := d.claimOnce(ctx, sendCtx)
		if ctx.Err() != nil {
			return
		}
		if full {
			last = time.Time{}
			continue // more may be due right now
		}
		wait := d.cfg.PollInterval
		if claimed >= 0 {
			if next, ok, err := d.store.NextDue(ctx); err == nil && ok {
				if until := time.Until(next); until > 0 && until < wait {
					wait = until
				} else if until <= 0 && claimed > 0 {
					wait = 0
				}
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-external:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// claimOnce claims one batch. full reports that the batch was filled and
// capacity remains, so the caller should claim again at once; claimed is -1
// after an error.
func (d *Dispatcher) claimOnce(ctx, sendCtx context.Context) (claimed int, full bool) {
	d.mu.Lock()
	capacity := min(d.cfg.ClaimBatch, d.cfg.MaxHeld-len(d.held)-d.reserved)
	var exclude []string
	for url, l := range d.lanes {
		if l.full(d.laneLimitLocked()) && len(exclude) < 500 {
			exclude = append(exclude, url)
		}
	}
	d.starved = capacity <= 0 || len(exclude) > 0
	d.mu.Unlock()
	if capacity <= 0 {
		return 0, false
	}
	now := time.Now()
	jobs, err := d.store.ClaimDue(ctx, herald.ClaimRequest{Now: now, Limit: capacity, LeaseUntil: now.Add(d.cfg.Lease), ExcludeURLs: exclude})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("claim deliveries", "err", err)
		}
		return -1, false
	}
	d.mu.Lock()
	for _, j := range jobs {
		d.held[j.DeliveryID] = struct{}{}
		d.enqueueLocked(d.lane(j.URL), j)
	}
	d.mu.Unlock()
	return len(jobs), len(jobs) == capacity
}

func (d *Dispatcher) lane(url string) *lane {
	l := d.lanes[url]
	if l == nil {
		l = &lane{url: url}
		d.lanes[url] = l
	}
	return l
}

// enqueueLocked queues j on l and starts a worker if the lane has room.
func (d *Dispatcher) enqueueLocked(l *lane, j herald.Job) {
	l.queue = append(l.queue, j)
	if l.active < d.cfg.LaneConcurrency {
		l.active++
		d.inflight.Add(1)
		go d.work(d.sendCtx, l)
	}
}

// laneLimitLocked is how many deliveries one lane may hold now: half of
// the room left, but at least LaneQueue. A lane that never drains (a
// hanging URL) can thus take only part of what is free, and healthy lanes
// always find room; fresh deliveries to busy healthy URLs mostly go
// straight to memory instead of through a claim query.
func (d *Dispatcher) laneLimitLocked() int {
	return max(d.cfg.LaneQueue, (d.cfg.MaxHeld-len(d.held)-d.reserved)/2)
}

// Reserve asks for room for one new delivery to url, before the ingest
// that creates it commits. When granted, the caller stores the delivery
// as already claimed (status sending, lease until leaseUntil) and then
// calls Start with it, or Cancel if the ingest failed: a fresh webhook
// goes straight from the ingest to its lane without a claim query.
// Refused when the lane or the dispatcher is full, or not running; the
// delivery is then stored pending and claimed later.
func (d *Dispatcher) Reserve(url string) (leaseUntil time.Time, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running || d.stopping || len(d.held)+d.reserved >= d.cfg.MaxHeld {
		return time.Time{}, false
	}
	l := d.lane(url)
	if l.full(d.laneLimitLocked()) {
		return time.Time{}, false
	}
	l.reserved++
	d.reserved++
	return time.Now().Add(d.cfg.Lease), true
}

// Cancel returns a reservation whose ingest did not store anything.
func (d *Dispatcher) Cancel(url string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.unreserveLocked(url); l.active == 0 && l.len() == 0 && l.reserved == 0 {
		delete(d.lanes, url)
	}
}

func (d *Dispatcher) unreserveLocked(url string) *lane {
	l := d.lanes[url]
	l.reserved--
	d.reserved--
	return l
}

// Start hands over a committed delivery that was reserved with Reserve.
func (d *Dispatcher) Start(j herald.Job) {
	d.mu.Lock()
	l := d.unreserveLocked(j.URL)
	if !d.stopping {
		d.held[j.DeliveryID] = struct{}{}
		d.enqueueLocked(l, j)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	// Too late to attempt: shutdown already released the queues, so give
	// this one back as well.
	if err := d.store.Release(context.Background(), []string{j.DeliveryID}, time.Now()); err != nil {
		d.log.Error("release delivery", "delivery_id", j.DeliveryID, "err", err)
	}
}

// work runs attempts from one lane until its queue is empty.
func (d *Dispatcher) work(ctx context.Context, l *lane) {
	defer d.inflight.Done()
	for {
		d.mu.Lock()
		if l.len() == 0 || d.stopping {
			l.active--
			if l.active == 0 && l.len() == 0 && l.reserved == 0 {
				delete(d.lanes, l.url)
			}
			d.mu.Unlock()
			return
		}
		job := l.pop()
		d.mu.Unlock()

		res, ok := d.attempt(ctx, job)
		if !ok {
			// Interrupted by shutdown: give it back untouched.
			if err := d.store.Release(context.WithoutCancel(ctx), []string{job.DeliveryID}, time.Now()); err != nil {
				d.log.Error("release interrupted delivery", "delivery_id", job.DeliveryID, "err", err)
			}
			d.mu.Lock()
			delete(d.held, job.DeliveryID)
			d.mu.Unlock()
			continue
		}
		d.results <- res
	}
}

// writeResults records attempt outcomes in batches until results is closed.
func (d *Dispatcher) writeResults() {
	const maxBatch = 1000
	batch := make([]herald.AttemptResult, 0, maxBatch)
	for r := range d.results {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-d.results:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		for attempt := 0; ; attempt++ {
			err := d.store.RecordAttempts(context.Background(), batch)
			if err == nil {
				break
			}
			// Keep the outcomes until the database takes them. If it never
			// does before shutdown they are still not lost: the deliveries
			// stay claimed and are attempted again once their lease ends
			// or at restart.
			if attempt%10 == 0 {
				d.log.Error("record attempts", "count", len(batch), "err", err)
			}
			d.mu.Lock()
			stopping := d.stopping
			d.mu.Unlock()
			if stopping && attempt >= 5 {
				break
			}
			time.Sleep(min(time.Duration(attempt+1)*100*time.Millisecond, 2*time.Second))
		}
		retries := false
		d.mu.Lock()
		for _, r := range batch {
			delete(d.held, r.DeliveryID)
			retries = retries || r.Status == herald.StatusPending
		}
		starved := d.starved
		d.mu.Unlock()
		// The claimer learns when the retries fall due, or finds work that
		// waited for the capacity just freed.
		if retries || starved {
			d.Notify()
		}
	}
}

func (d *Dispatcher) renewLeases(ctx context.Context) {
	t := time.NewTicker(d.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		ids := make([]string, 0, len(d.held))
		for id := range d.held {
			ids = append(ids, id)
		}
		d.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		if err := d.store.RenewLeases(ctx, ids, time.Now().Add(d.cfg.Lease)); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("renew leases", "count", len(ids), "err", err)
		}
	}
}
