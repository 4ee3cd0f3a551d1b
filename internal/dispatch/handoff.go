package dispatch

import (
	"context"
	"time"

	herald "github.com/heraldhq/herald"
)

// Submit hands fresh deliveries from an ingest to the dispatcher. For each
// delivery whose lane has room it reserves that room and marks the delivery
// to be stored already claimed (status sending, with a lease), so that it
// goes from the ingest straight to its lane without a claim query; the
// others stay pending and are claimed later. It then runs commit, which
// stores events and reports whether it stored them (false: an idempotent
// replay that stored nothing). Reserved deliveries start once stored; on an
// error or a replay their room is given back. The reservation lives only
// inside Submit, so no caller can leak lane capacity.
func (d *Dispatcher) Submit(events []herald.EventRecord, commit func() (stored bool, err error)) error {
	return d.submit(events, commit, time.Now())
}

// SubmitBulk is Submit for deliveries that bulk work (a replay) made: the
// same handoff, but their waits are not live traffic's (LiveLag).
func (d *Dispatcher) SubmitBulk(events []herald.EventRecord, commit func() (stored bool, err error)) error {
	return d.submit(events, commit, time.Time{})
}

// submit hands events' deliveries over; handed is when a live ingest
// did so (zero: bulk work).
func (d *Dispatcher) submit(events []herald.EventRecord, commit func() (stored bool, err error), handed time.Time) error {
	var reserved []herald.Job
	pending := false
	for i := range events {
		ev := &events[i].Event
		for j := range events[i].Deliveries {
			del := &events[i].Deliveries[j]
			if lease, ok := d.reserve(del.URL); ok {
				del.Status, del.LeaseUntil = herald.StatusSending, &lease
				body := ev.Body
				if del.Body != nil {
					body = del.Body
				}
				reserved = append(reserved, herald.Job{DeliveryID: del.ID, EventID: ev.ID, EnvironmentID: del.EnvironmentID,
					URL: del.URL, Body: body, Headers: ev.Headers, LeaseGen: herald.FreshLeaseGen,
					TraceParent: ev.TraceParent, EventType: del.Type, ConnectionID: del.ConnectionID, Handed: handed})
			} else {
				pending = true
			}
		}
	}
	stored, err := commit()
	if err != nil || !stored {
		for _, j := range reserved {
			d.cancel(j.URL)
		}
		return err
	}
	for _, j := range reserved {
		d.start(j)
	}
	if pending {
		d.Notify()
	}
	return nil
}

// reserve asks for room for one new delivery to url, before the ingest
// that creates it commits. Refused when the lane or the dispatcher is
// full, or not running.
func (d *Dispatcher) reserve(url string) (leaseUntil time.Time, ok bool) {
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

// cancel returns a reservation whose ingest did not store anything.
func (d *Dispatcher) cancel(url string) {
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

// start hands over a committed delivery that was reserved.
func (d *Dispatcher) start(j herald.Job) {
	d.mu.Lock()
	l := d.unreserveLocked(j.URL)
	if !d.stopping {
		d.held[j.DeliveryID] = j.LeaseGen
		d.enqueueLocked(l, j)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	// Too late to attempt: shutdown already released the queues, so give
	// this one back as well.
	if err := d.store.Release(context.Background(), []herald.Lease{{DeliveryID: j.DeliveryID, Gen: j.LeaseGen}}, time.Now()); err != nil {
		d.log.Error("release delivery", "delivery_id", j.DeliveryID, "err", err)
	}
}
