package dispatch

import (
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
)

// Circuit breaker defaults (SPEC §13): Nango's numbers.
const (
	// DefaultCircuitFailures: more than this many failed attempts in a
	// row within DefaultCircuitWindow open the circuit.
	DefaultCircuitFailures = 5
	DefaultCircuitWindow   = 10 * time.Second
	// DefaultCircuitOpen is how long an open circuit lets no attempt
	// through; then one probe goes.
	DefaultCircuitOpen = 60 * time.Second
)

// What a deferred delivery shows as its last error (SPEC §13).
const (
	errCircuitOpen = "circuit open"
	errRetryAfter  = "endpoint asked to wait (Retry-After)"
)

// breakerPolicy is when a circuit opens and for how long.
type breakerPolicy struct {
	failures int           // more than this many failures in a row…
	window   time.Duration // …within this span open the circuit…
	open     time.Duration // …for this long
}

// breaker is one endpoint's circuit breaker and Retry-After pause in
// this process. The circuit is closed (attempts go), open (attempts wait
// until openUntil), or half-open (openUntil has passed: one attempt, the
// probe, goes; the others wait for its answer).
type breaker struct {
	mu sync.Mutex
	// failures are the times of the last failed attempts since the
	// last success, at most policy.failures+1 of them, oldest first.
	failures  []time.Time
	openUntil time.Time     // zero: closed
	probe     chan struct{} // while the probe is in flight; closed when it ends
	// pausedUntil is when the endpoint's last Retry-After ends.
	pausedUntil time.Time
}

// verdict is what the breaker says of an attempt about to be made.
type verdict struct {
	// wait, when set, is when the delivery may be attempted: it waits
	// in the store until then, without spending an attempt, and reason
	// says why.
	wait   time.Time
	reason string
	// probe is set when this attempt is the half-open probe: its outcome
	// closes or reopens the circuit (record), and it must be ended
	// (record or abandon) whatever happens.
	probe bool
	// after, when set, is the probe in flight: ask again once it is
	// closed.
	after <-chan struct{}
}

// admit says whether an attempt may go at now. shared is the circuit as
// the store has it (Endpoint.CircuitOpenUntil): a circuit another process
// opened is respected here too.
func (b *breaker) admit(now time.Time, shared *time.Time) verdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() && shared != nil {
		b.openUntil = *shared
	}
	if !b.openUntil.IsZero() {
		switch {
		case now.Before(b.openUntil):
			return verdict{wait: b.openUntil, reason: errCircuitOpen}
		case b.probe != nil:
			return verdict{after: b.probe}
		}
		b.probe = make(chan struct{})
		return verdict{probe: true}
	}
	if now.Before(b.pausedUntil) {
		return verdict{wait: b.pausedUntil, reason: errRetryAfter}
	}
	return verdict{}
}

// transition is a change of a circuit's state that record reports.
type transition int

const (
	unchanged transition = iota
	opened               // closed → open, or a failed probe: open again
	closed               // the probe succeeded
)

// record takes an attempt's outcome: its health (herald.Health*; "" says
// nothing of the endpoint), whether it was the probe, and when, with a
// Retry-After, the endpoint asked to be left alone until (zero: it did
// not). It returns the circuit's transition and, when it opened, until
// when.
func (b *breaker) record(p breakerPolicy, now time.Time, health string, probe bool, pauseUntil time.Time) (transition, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if pauseUntil.After(b.pausedUntil) {
		b.pausedUntil = pauseUntil
	}
	if probe {
		b.endProbeLocked()
		switch health {
		case "":
			// Nothing learnt of the endpoint (herald's own trouble, or a
			// URL refused): the next attempt probes.
			return unchanged, time.Time{}
		case herald.HealthFailure:
			b.openUntil = now.Add(p.open)
			return opened, b.openUntil
		}
		// It answered: a success, or a request to wait (the pause
		// above), lets the next attempts go.
		b.openUntil, b.failures = time.Time{}, b.failures[:0]
		return closed, time.Time{}
	}
	switch health {
	case herald.HealthSuccess:
		b.failures = b.failures[:0]
	case herald.HealthFailure:
		if !b.openUntil.IsZero() {
			return unchanged, time.Time{} // an attempt that started before it opened
		}
		if len(b.failures) > p.failures {
			b.failures = append(b.failures[:0], b.failures[1:]...)
		}
		b.failures = append(b.failures, now)
		if len(b.failures) > p.failures && now.Sub(b.failures[0]) <= p.window {
			b.openUntil, b.failures = now.Add(p.open), b.failures[:0]
			return opened, b.openUntil
		}
	}
	return unchanged, time.Time{}
}

// abandon ends a probe that was not made (shutdown, or the delivery was
// held): the next attempt probes instead.
func (b *breaker) abandon() {
	b.mu.Lock()
	b.endProbeLocked()
	b.mu.Unlock()
}

func (b *breaker) endProbeLocked() {
	if b.probe != nil {
		close(b.probe)
		b.probe = nil
	}
}

// breakers are the endpoints' breakers in this process, by endpoint id.
type breakers struct {
	mu sync.Mutex
	m  map[string]*breaker
}

func (bs *breakers) of(id string) *breaker {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.m[id]
	if b == nil {
		if bs.m == nil {
			bs.m = make(map[string]*breaker)
		}
		b = &breaker{}
		bs.m[id] = b
	}
	return b
}
