package dispatch

import (
	"context"
	"errors"
	"time"
)

// renewLeases keeps the leases of every delivery this process holds from
// running out while it is queued or attempted; a lease that does run out
// (the process died) lets another claimer take the delivery.
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
