package dispatch

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/telemetry"
)

// attemptAtEndpoint makes job's attempt as its endpoint says: not at all
// when it is disabled (the delivery is held: held is true), within its
// limits otherwise, and judges the endpoint by the outcome. ok is
// attempt's.
func (d *Dispatcher) attemptAtEndpoint(ctx context.Context, job herald.Job) (res herald.AttemptResult, ok, held bool) {
	ep := d.endpoint(ctx, job)
	d.noteConcurrency(job.URL, ep)
	if ep != nil && ep.Disabled && d.hold(ctx, job) {
		return res, false, true
	}
	gt := d.gates.of(ep)
	if gt.enter(ctx) != nil {
		return res, false, false
	}
	defer gt.leave()
	d.cfg.Metrics.AttemptStarted()
	res, ok = d.attempt(ctx, job, ep)
	d.cfg.Metrics.AttemptDone(res, ok)
	if ok {
		d.judge(ctx, ep, res)
	}
	return res, ok, false
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
	case res.Health == herald.HealthFailure && ep.FailingSince != nil && res.Attempt.StartedAt.Sub(*ep.FailingSince) >= d.cfg.DisableAfter:
		reason = herald.DisabledFailing
	default:
		return
	}
	now := time.Now().UTC()
	got, err := d.store.DisableEndpoint(context.WithoutCancel(ctx), ep.EnvironmentID, ep.ID, reason, now)
	if err != nil {
		d.log.Error("disable endpoint", "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID, "err", err)
		return
	}
	if got.DisabledAt == nil || got.DisabledAt.Before(now.Truncate(time.Millisecond)) {
		return // another worker or process disabled it first
	}
	d.cfg.Metrics.EndpointEvent(telemetry.EndpointDisabled, reason)
	d.log.Warn("endpoint disabled", "environment_id", ep.EnvironmentID, "endpoint_id", ep.ID, "url", logURL(ep.URL),
		"reason", reason, "consecutive_failures", ep.ConsecutiveFailures)
}

// gates holds each endpoint's limits in this process, by endpoint id.
type gates struct {
	mu sync.Mutex
	m  map[string]*gate
}

// gate enforces an endpoint's own limits (MaxConcurrency, RateLimitPerS)
// on this process's attempts.
type gate struct {
	concurrency, perSecond int           // what it was made for; 0: none
	slots                  chan struct{} // nil: no concurrency limit
	limiter                *rate.Limiter // nil: no rate limit
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

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
