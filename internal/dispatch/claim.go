package dispatch

import (
	"context"
	"time"

	herald "github.com/heraldhq/herald"
)

// Notify tells the dispatcher that deliveries became due now (after an
// ingest commit). It never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) claimLoop(ctx, sendCtx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	// A shared database tells when another process stored work.
	external := d.store.Wakeups()
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
		d.held[j.DeliveryID] = j.LeaseGen
		d.enqueueLocked(d.lane(j.URL), j)
	}
	d.mu.Unlock()
	return len(jobs), len(jobs) == capacity
}
