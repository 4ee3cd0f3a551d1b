package dispatch

import (
	"slices"
	"sync"
	"time"
)

// lagSamples is how many recent live lags a Dispatcher keeps.
const lagSamples = 4096

// lagWindow keeps the most recent lags of live deliveries: how long a
// delivery an ingest handed over (Submit) waited, from the handoff to the
// start of its first attempt. It is what a live event's sender feels of
// the store and of the dispatcher, and what bulk work must not make worse.
type lagWindow struct {
	mu   sync.Mutex
	at   [lagSamples]time.Time
	lag  [lagSamples]time.Duration
	next int // where the next sample goes
}

func (w *lagWindow) observe(at time.Time, lag time.Duration) {
	w.mu.Lock()
	w.at[w.next], w.lag[w.next] = at, lag
	w.next = (w.next + 1) % lagSamples
	w.mu.Unlock()
}

// quantile returns the q-quantile of the lags observed after since, and
// how many there were.
func (w *lagWindow) quantile(since time.Time, q float64) (time.Duration, int) {
	var recent []time.Duration
	w.mu.Lock()
	for i := range lagSamples {
		if w.at[i].After(since) {
			recent = append(recent, w.lag[i])
		}
	}
	w.mu.Unlock()
	if len(recent) == 0 {
		return 0, 0
	}
	slices.Sort(recent)
	return recent[min(len(recent)-1, int(q*float64(len(recent))))], len(recent)
}

// LiveLag reports the q-quantile (0.9: the 90th percentile) of the lags of
// live deliveries whose first attempt started in the last window, and how
// many there were: the time from an ingest handing a delivery over to its
// first attempt starting. Bulk work (SubmitBulk, claims) is not counted;
// it uses the figure to yield to live traffic.
func (d *Dispatcher) LiveLag(q float64, window time.Duration) (time.Duration, int) {
	return d.lags.quantile(time.Now().Add(-window), q)
}
