package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/alert"
	"github.com/heraldhq/herald/internal/telemetry"
)

// outcome is what became of a delivery a lane worker took.
type outcome int

const (
	attempted   outcome = iota // an attempt was made: record its result
	parked                     // held or deferred without an attempt: nothing more to do
	interrupted                // shutdown came first: give the delivery back
	paused                     // the endpoint asked for a short wait: wait in memory, then try again
)

// maxPauseInMemory is the longest Retry-After a lane waits out in memory,
// its deliveries kept; a longer one (and an open circuit) sends them
// back to the store, due when it ends. Short waits are the usual answer
// of a rate-limited receiver (Retry-After: 1), and writing the lane's
// backlog back and claiming it again every second would only load the
// database that every other endpoint shares.
const maxPauseInMemory = 5 * time.Second

// attemptAtEndpoint makes job's attempt as its endpoint says: not at all
// when it is disabled (the delivery is held) or its circuit is open or it
// asked to wait (for a short wait, until says until when and the lane
// waits; otherwise the delivery waits in the store, with the lane's
// other deliveries to it), within its limits otherwise; then it judges
// the endpoint by the outcome.
func (d *Dispatcher) attemptAtEndpoint(ctx context.Context, job herald.Job) (res herald.AttemptResult, sig signal, out outcome, until time.Time) {
	ep := d.endpoint(ctx, job)
	d.noteConcurrency(job.URL, ep)
	if ep != nil && ep.Disabled && d.hold(ctx, job) {
		return res, sig, parked, until
	}
	var br *breaker
	var v verdict
	if ep != nil {
		br = d.breakers.of(ep.ID)
		for v = br.admit(time.Now(), ep.CircuitOpenUntil); v.after != nil; v = br.admit(time.Now(), ep.CircuitOpenUntil) {
			select {
			case <-v.after: // the probe answered: ask again
			case <-ctx.Done():
				return res, sig, interrupted, until
			}
		}
		if !v.wait.IsZero() {
			if v.reason == errRetryAfter && time.Until(v.wait) <= maxPauseInMemory {
				return res, sig, paused, v.wait
			}
			d.deferJobs(ctx, job, v.wait, v.reason)
			return res, sig, parked, until
		}
	}
	gt := d.gates.of(ep)
	if gt.enter(ctx) != nil {
		if v.probe {
			br.abandon()
		}
		return res, sig, interrupted, until
	}
	defer gt.leave()
	d.cfg.Metrics.AttemptStarted()
	res, sig, ok := d.attempt(ctx, job, ep)
	d.cfg.Metrics.AttemptDone(res, ok)
	if !ok {
		if v.probe {
			br.abandon()
		}
		return res, sig, interrupted, until
	}
	if ep != nil {
		d.judge(ctx, ep, res)
		d.observe(ctx, ep, br, v.probe, res, sig)
	}
	return res, sig, attempted, until
}

// observe feeds an attempt's outcome to its endpoint's breaker, and
// stores, counts and logs the circuit opening or closing, so that other
// processes and GET /endpoints see it.
func (d *Dispatcher) observe(ctx context.Context, ep *herald.Endpoint, br *breaker, probe bool, res herald.AttemptResult, sig signal) {
	now := time.Now()
	tr, until := br.record(d.policy, now, res.Health, probe, sig.pauseUntil)
	var open *time.Time
	switch tr {
	case unchanged:
		return
	case opened:
		// A copy: until itself would otherwise live on the heap for every
		// attempt, the circuit changing or not.
		u := until
		open = &u
		d.cfg.Metrics.EndpointEvent(telemetry.EndpointCircuitOpened, "")
		d.log.Warn("endpoint circuit open", "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID, "url", herald.LogURL(ep.URL),
			"until", until.UTC().Format(time.RFC3339Nano), "probe_failed", probe)
	case closed:
		d.cfg.Metrics.EndpointEvent(telemetry.EndpointCircuitClosed, "")
		d.log.Info("endpoint circuit closed: the probe succeeded", "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID,
			"url", herald.LogURL(ep.URL))
	}
	if err := d.store.SetCircuit(context.WithoutCancel(ctx), ep.EnvironmentID, ep.ID, open, now.UTC()); err != nil {
		d.log.Error("store endpoint circuit", "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID, "err", err)
	}
}

// deferJobs gives job back to the store without an attempt, due at until
// with reason as its last error, and with it every delivery to the same
// endpoint waiting in its lane: one write for them all. A delivery whose
// write fails stays claimed until its lease ends, and is then attempted
// (at-least-once).
func (d *Dispatcher) deferJobs(ctx context.Context, job herald.Job, until time.Time, reason string) {
	d.mu.Lock()
	jobs := []herald.Job{job}
	if l := d.lanes[job.URL]; l != nil {
		jobs = l.take(job.EnvironmentID, jobs)
	}
	d.mu.Unlock()
	leases := make([]herald.Lease, len(jobs))
	for i, j := range jobs {
		leases[i] = herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen}
	}
	err := d.store.DeferDeliveries(context.WithoutCancel(ctx), leases, until, reason, time.Now())
	d.mu.Lock()
	for _, j := range jobs {
		delete(d.held, j.DeliveryID)
	}
	d.mu.Unlock()
	if err != nil {
		d.log.Error("defer deliveries", "environment_id", job.EnvironmentID, "count", len(jobs), "err", err)
		return
	}
	d.log.Debug("deliveries wait for their endpoint", "environment_id", job.EnvironmentID, "url", herald.LogURL(job.URL),
		"count", len(jobs), "reason", reason, "until", until.UTC().Format(time.RFC3339Nano))
	d.Notify() // the claimer learns when they fall due
}

// noteConcurrency records ep's MaxConcurrency for its URL's lane
// (workersLocked). Without any endpoint limit in this process it takes no
// lock: the attempt path stays as it was.
func (d *Dispatcher) noteConcurrency(url string, ep *herald.Endpoint) {
	limit := 0
	if ep != nil && ep.MaxConcurrency != nil {
		limit = *ep.MaxConcurrency
	}
	if limit == 0 && d.limitedURLs.Load() == 0 {
		return
	}
	d.mu.Lock()
	if limit > 0 {
		d.urlConcurrency[url] = limit
	} else {
		delete(d.urlConcurrency, url)
	}
	d.limitedURLs.Store(int64(len(d.urlConcurrency)))
	d.mu.Unlock()
}

// endpoint returns job's endpoint (the store's, cached), or nil when it
// has none yet (its first attempt makes it) or cannot be read now: then
// the attempt goes ahead with no limit, as it would have before endpoints.
func (d *Dispatcher) endpoint(ctx context.Context, job herald.Job) *herald.Endpoint {
	ep, err := d.store.EndpointByURL(ctx, job.EnvironmentID, job.URL)
	if err != nil {
		if !errors.Is(err, herald.ErrNotFound) && ctx.Err() == nil {
			d.log.Warn("load endpoint", "environment_id", job.EnvironmentID, "err", err)
		}
		return nil
	}
	return ep
}

// hold parks a claimed delivery of a disabled endpoint (held, until the
// endpoint is enabled) and reports whether it did. It did not when the
// endpoint was enabled meanwhile: then the delivery is attempted.
func (d *Dispatcher) hold(ctx context.Context, job herald.Job) bool {
	ok, err := d.store.HoldDelivery(ctx, herald.Lease{DeliveryID: job.DeliveryID, Gen: job.LeaseGen}, job.EnvironmentID, job.URL, time.Now())
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("hold delivery", "delivery_id", job.DeliveryID, "err", err)
		}
		return false
	}
	if ok {
		d.log.Info("delivery held: its endpoint is disabled", "delivery_id", job.DeliveryID, "event_id", job.EventID,
			"environment_id", job.EnvironmentID)
	}
	return ok
}

// judge disables ep when res says it should be: at once on 410 Gone
// (Standard Webhooks: the receiver wants nothing more), or on a failure
// once every attempt has failed for DisableAfter. Its deliveries are then
// held from their next turn on, never dropped.
func (d *Dispatcher) judge(ctx context.Context, ep *herald.Endpoint, res herald.AttemptResult) {
	if ep == nil || ep.Disabled {
		return
	}
	var reason string
	switch {
	case res.Attempt.StatusCode != nil && *res.Attempt.StatusCode == http.StatusGone:
		reason = herald.DisabledGone
	case res.Health == herald.HealthFailure && ep.FailingSince != nil && d.cfg.Now().Sub(*ep.FailingSince) >= d.cfg.DisableAfter:
		reason = herald.DisabledFailing
	default:
		return
	}
	now := d.cfg.Now().UTC()
	got, err := d.store.DisableEndpoint(context.WithoutCancel(ctx), ep.EnvironmentID, ep.ID, reason, now)
	if err != nil {
		d.log.Error("disable endpoint", "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID, "err", err)
		return
	}
	if got.DisabledAt == nil || got.DisabledAt.Before(now.Truncate(time.Millisecond)) {
		return // another worker or process disabled it first
	}
	d.cfg.Metrics.EndpointEvent(telemetry.EndpointDisabled, reason)
	d.cfg.Alerts.Endpoint(alert.EndpointDisabled, *got)
	d.log.Warn("endpoint disabled", "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID, "url", herald.LogURL(ep.URL),
		"reason", reason, "consecutive_failures", ep.ConsecutiveFailures)
}

// gates holds each endpoint's limits in this process, by endpoint id.
type gates struct {
	mu sync.Mutex
	m  map[string]*gate
	// shared, when set, holds the rate limits' buckets for every process
	// on the database (Config.Tokens).
	shared herald.TokenBuckets
	log    *slog.Logger
}

// gate enforces an endpoint's own limits (MaxConcurrency, RateLimitPerS)
// on this process's attempts.
type gate struct {
	concurrency, perSecond int           // what it was made for; 0: none
	slots                  chan struct{} // nil: no concurrency limit
	// limiter spaces this process's attempts evenly (a burst of one);
	// with a shared bucket, each attempt also takes one of its tokens.
	limiter *rate.Limiter // nil: no rate limit
	bucket  *sharedBucket // nil: this process's limiter alone
}

// sharedBucket is this process's share of an endpoint's rate limit on a
// shared database: tokens taken from the common bucket a few at a time
// (at most a tenth of a second's worth), and spent by its attempts.
type sharedBucket struct {
	tokens     herald.TokenBuckets
	endpointID string
	perSecond  int
	burst      int
	log        *slog.Logger

	mu   sync.Mutex
	have int
	at   time.Time // when have was taken: unspent tokens go stale after a second
}

// of returns the gate for ep's current limits, nil when it has none. A
// change of limits makes a new gate; attempts under the old one finish
// under it.
func (g *gates) of(ep *herald.Endpoint) *gate {
	if ep == nil || (ep.MaxConcurrency == nil && ep.RateLimitPerS == nil) {
		return nil
	}
	conc, per := deref(ep.MaxConcurrency), deref(ep.RateLimitPerS)
	g.mu.Lock()
	defer g.mu.Unlock()
	if gt, ok := g.m[ep.ID]; ok && gt.concurrency == conc && gt.perSecond == per {
		return gt
	}
	gt := &gate{concurrency: conc, perSecond: per}
	if conc > 0 {
		gt.slots = make(chan struct{}, conc)
	}
	if per > 0 {
		// A burst of one: attempts are spread evenly over each second.
		gt.limiter = rate.NewLimiter(rate.Limit(per), 1)
		if g.shared != nil {
			gt.bucket = &sharedBucket{tokens: g.shared, endpointID: ep.ID, perSecond: per, burst: max(1, per/10), log: g.log}
		}
	}
	if g.m == nil {
		g.m = make(map[string]*gate)
	}
	g.m[ep.ID] = gt
	return gt
}

// enter waits for a slot and a token; leave gives the slot back. enter
// fails only when ctx ends.
func (gt *gate) enter(ctx context.Context) error {
	if gt == nil {
		return nil
	}
	if gt.slots != nil {
		select {
		case gt.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if gt.bucket != nil {
		if err := gt.bucket.take(ctx); err != nil {
			gt.leave()
			return err
		}
	}
	if gt.limiter != nil {
		if err := gt.limiter.Wait(ctx); err != nil {
			gt.leave()
			return err
		}
	}
	return nil
}

func (gt *gate) leave() {
	if gt != nil && gt.slots != nil {
		<-gt.slots
	}
}

// take spends one of the shared bucket's tokens, taking more from the
// database when this process has none, and waiting while the bucket is
// empty. When the database cannot be asked, the process's own limiter
// alone paces the attempt: the limit then holds per process only, until
// the database answers again. It fails only when ctx ends.
func (b *sharedBucket) take(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.have > 0 && time.Since(b.at) < time.Second {
			b.have--
			return nil
		}
		got, wait, err := b.tokens.TakeTokens(ctx, b.endpointID, b.perSecond, b.burst, b.burst)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			b.log.Warn("shared rate limit: the database did not answer; this process paces the endpoint alone",
				"endpoint_id", b.endpointID, "err", err)
			return nil
		case got > 0:
			b.have, b.at = got, time.Now()
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
