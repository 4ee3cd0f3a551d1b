package dispatch

import (
	"context"
	"time"

	herald "github.com/heraldhq/herald"
)

// A lane is the queue of one target URL: at most LaneConcurrency attempts
// in flight, so an endpoint that hangs ties up only its own lane.
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
		if !job.Handed.IsZero() {
			now := time.Now()
			d.lags.observe(now, now.Sub(job.Handed))
		}

		d.cfg.Metrics.AttemptStarted()
		res, ok := d.attempt(ctx, job)
		d.cfg.Metrics.AttemptDone(res, ok)
		if !ok {
			// Interrupted by shutdown: give it back untouched.
			lease := []herald.Lease{{DeliveryID: job.DeliveryID, Gen: job.LeaseGen}}
			if err := d.store.Release(context.WithoutCancel(ctx), lease, time.Now()); err != nil {
				d.log.Error("release interrupted delivery", "delivery_id", job.DeliveryID, "err", err)
			}
			d.mu.Lock()
			delete(d.held, job.DeliveryID)
			d.mu.Unlock()
			continue
		}
		d.logOutcome(job, res)
		d.results <- res
	}
}

// laneCount is the number of open lanes, for herald_lanes.
func (d *Dispatcher) laneCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.lanes)
}
