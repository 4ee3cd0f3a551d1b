package dispatch

import "time"

// Reserve and Cancel expose the lane reservations to the tests, which
// check lane limits without an ingest.
func (d *Dispatcher) Reserve(url string) (time.Time, bool) { return d.reserve(url) }

func (d *Dispatcher) Cancel(url string) { d.cancel(url) }
