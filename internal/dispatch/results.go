package dispatch

import (
	"context"
	"errors"
	"time"

	herald "github.com/heraldhq/herald"
)

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
			if attempt >= 2 && !errors.Is(err, herald.ErrUnavailable) {
				// The database answers but refuses this batch: write the
				// outcomes one by one, so that one bad outcome cannot hold
				// back the others for ever. One that still fails is given
				// up; its delivery stays claimed and is attempted again
				// once the lease ends (at-least-once).
				for _, r := range batch {
					if err := d.store.RecordAttempts(context.Background(), []herald.AttemptResult{r}); err != nil {
						d.log.Error("record attempt: given up, the delivery will be attempted again", "delivery_id", r.DeliveryID, "err", err)
					}
				}
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
