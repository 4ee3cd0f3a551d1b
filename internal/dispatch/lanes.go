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
	// pausing is set while one of its workers waits out its endpoint's
	// Retry-After; the others leave, and no new one starts.
	pausing bool
}

func (l *lane) len() int { return len(l.queue) - l.head }

// full reports whether the lane holds as many deliveries as it may.
func (l *lane) full(max int) bool { return l.len()+l.reserved >= max }

// unpop puts j back at the head of the queue, where pop took it from.
func (l *lane) unpop(j herald.Job) {
	if l.head > 0 {
		l.head--
		l.queue[l.head] = j
		return
	}
	l.queue = append(l.queue, herald.Job{})
	copy(l.queue[1:], l.queue)
	l.queue[0] = j
}

func (l *lane) pop() herald.Job {
	j := l.queue[l.head]
	l.queue[l.head] = herald.Job{}
	l.head++
	if l.head == len(l.queue) {
		l.queue, l.head = l.queue[:0], 0
	}
	return j
}

// take moves the queued deliveries of environment envID to into, and
// returns it.
func (l *lane) take(envID string, into []herald.Job) []herald.Job {
	kept := l.queue[:l.head]
	for _, j := range l.queue[l.head:] {
		if j.EnvironmentID == envID {
			into = append(into, j)
		} else {
			kept = append(kept, j)
		}
	}
	clear(l.queue[len(kept):])
	l.queue = kept
	if l.head == len(l.queue) {
		l.queue, l.head = l.queue[:0], 0
	}
	return into
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
	d.growLocked(l)
}

// growLocked starts one more worker on l when it has work and room for
// it, and is not pausing.
func (d *Dispatcher) growLocked(l *lane) {
	if !l.pausing && l.len() > 0 && l.active < d.workersLocked(l.url) {
		l.active++
		d.inflight.Add(1)
		go d.work(d.sendCtx, l)
	}
}

// workersLocked is how many attempts a lane may have in flight:
// LaneConcurrency, or less when its endpoint says so (MaxConcurrency, as
// the lane's workers last saw it). With one, the lane's deliveries go
// strictly in order.
func (d *Dispatcher) workersLocked(url string) int {
	if a := d.adaptive[url]; a != nil {
		return min(a.limit, d.maxWorkersLocked(url))
	}
	return d.maxWorkersLocked(url)
}

// maxWorkersLocked is a lane's most workers: LaneConcurrency, or its
// endpoint's MaxConcurrency when lower.
func (d *Dispatcher) maxWorkersLocked(url string) int {
	if c := d.urlConcurrency[url]; c > 0 {
		return min(c, d.cfg.LaneConcurrency)
	}
	return d.cfg.LaneConcurrency
}

// aimdCooldown is how often timeouts may halve a lane's concurrency: the
// timeouts of attempts sent together count once. Every 429 and 503 halves
// it: each is the receiver saying it gets too much.
const aimdCooldown = 250 * time.Millisecond

// aimdGrowth is the least time between two increases of a lane's
// concurrency: success must be sustained, not a burst of quick answers
// just after a cut, so a rate-limited receiver is not pressed again at
// once.
const aimdGrowth = 500 * time.Millisecond

// aimd is a lane's concurrency while it is below its most (SPEC §13):
// halved on a 429, a 503 or a timeout; one more after as many successes
// in a row as the limit, at most every aimdGrowth.
type aimd struct {
	limit, successes int
	cut, changed     time.Time
}

// adaptLocked adapts url's lane's concurrency to an attempt's outcome. A
// lane at its most has no entry, and costs nothing more.
func (d *Dispatcher) adaptLocked(url string, res herald.AttemptResult, sig signal, now time.Time) {
	a := d.adaptive[url]
	if sig.overload {
		if a == nil {
			a = &aimd{limit: d.maxWorkersLocked(url)}
			d.adaptive[url] = a
		}
		if sig.refused || now.Sub(a.cut) >= aimdCooldown {
			a.limit, a.successes, a.cut, a.changed = max(1, a.limit/2), 0, now, now
		}
		return
	}
	if a == nil {
		return
	}
	if res.Health != herald.HealthSuccess {
		a.successes = 0
		return
	}
	if a.successes++; a.successes >= a.limit && now.Sub(a.changed) >= aimdGrowth {
		a.limit, a.successes, a.changed = a.limit+1, 0, now
		if a.limit >= d.maxWorkersLocked(url) {
			delete(d.adaptive, url)
		}
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
		if l.len() == 0 || d.stopping || l.active > d.workersLocked(l.url) {
			l.active--
			if l.active == 0 && l.len() == 0 && l.reserved == 0 {
				delete(d.lanes, l.url)
			}
			d.mu.Unlock()
			return
		}
		job := l.pop()
		// After a pause, or once its limit grew (AIMD), a lane gets its
		// workers back one at a time as they find work.
		d.growLocked(l)
		d.mu.Unlock()
		if !job.Handed.IsZero() {
			now := time.Now()
			d.lags.observe(now, now.Sub(job.Handed))
		}

		res, sig, out, until := d.attemptAtEndpoint(ctx, job)
		switch out {
		case paused:
			if !d.pause(ctx, l, job, until) {
				return
			}
			continue
		case parked:
			d.mu.Lock()
			delete(d.held, job.DeliveryID)
			d.mu.Unlock()
			continue
		case interrupted:
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
		d.mu.Lock()
		d.adaptLocked(l.url, res, sig, time.Now())
		d.mu.Unlock()
		d.logOutcome(job, res)
		d.results <- res
	}
}

// pause puts job back at the head of its lane and has the lane wait
// until until, its endpoint's Retry-After: this worker waits, and returns
// true to go on; any other worker of the lane leaves (false), and none
// starts meanwhile. The lane's deliveries stay claimed (their leases are
// renewed); a shutdown ends the wait.
func (d *Dispatcher) pause(ctx context.Context, l *lane, job herald.Job, until time.Time) bool {
	d.mu.Lock()
	l.unpop(job)
	if l.pausing {
		l.active--
		d.mu.Unlock()
		return false
	}
	l.pausing = true
	d.mu.Unlock()
	t := time.NewTimer(time.Until(until))
	select {
	case <-t.C:
	case <-d.halt:
		t.Stop()
	case <-ctx.Done():
		t.Stop()
	}
	d.mu.Lock()
	l.pausing = false
	d.mu.Unlock()
	return true
}

// laneCount is the number of open lanes, for herald_lanes.
func (d *Dispatcher) laneCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.lanes)
}
