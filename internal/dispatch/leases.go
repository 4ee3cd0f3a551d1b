package dispatch

import (
	"context"
	"errors"
	"time"

	herald "github.com/heraldhq/herald"
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
		leases := make([]herald.Lease, 0, len(d.held))
		for id, gen := range d.held {
			leases = append(leases, herald.Lease{DeliveryID: id, Gen: gen})
		}
		d.mu.Unlock()
		if len(leases) == 0 {
			continue
		}
		if err := d.store.RenewLeases(ctx, leases, time.Now().Add(d.cfg.Lease)); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("renew leases", "count", len(leases), "err", err)
		}
	}
}
