package dispatch

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// The breaker's states, step by step on an explicit clock: closed, open
// after more than 5 failures in a row within 10 s, half-open after a
// minute (one probe, the others wait for it), and closed or open again
// by the probe's answer.
func TestBreaker(t *testing.T) {
	p := breakerPolicy{failures: DefaultCircuitFailures, window: DefaultCircuitWindow, open: DefaultCircuitOpen}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		at     time.Duration
		admit  bool   // ask admit (else record health)
		health string // recorded outcome
		probe  bool   // the recorded attempt was the probe
		want   string // admit: "go", "probe", "wait", "after"; record: "", "opened", "closed"
	}
	fail := func(d time.Duration) step { return step{at: d, health: herald.HealthFailure} }
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"five failures keep it closed", []step{
			fail(0), fail(1), fail(2), fail(3), fail(4), {at: 5, admit: true, want: "go"},
		}},
		{"six within the window open it", []step{
			fail(0), fail(1), fail(2), fail(3), fail(4), {at: 5, health: herald.HealthFailure, want: "opened"},
			{at: 6, admit: true, want: "wait"},
		}},
		{"six spread beyond the window do not", []step{
			fail(0), fail(time.Second), fail(2 * time.Second), fail(3 * time.Second), fail(4 * time.Second),
			{at: 11 * time.Second, health: herald.HealthFailure},
			{at: 12 * time.Second, admit: true, want: "go"},
		}},
		{"a success starts the count again", []step{
			fail(0), fail(1), fail(2), fail(3), fail(4), {at: 5, health: herald.HealthSuccess},
			fail(6), {at: 7, admit: true, want: "go"},
		}},
		{"throttled answers do not count", []step{
			fail(0), fail(1), fail(2), fail(3), fail(4), {at: 5, health: herald.HealthThrottled},
			{at: 6, admit: true, want: "go"},
		}},
		{"half-open: one probe, the others wait for it; a failed probe opens it again", []step{
			fail(0), fail(1), fail(2), fail(3), fail(4), {at: 5, health: herald.HealthFailure, want: "opened"},
			{at: time.Minute, admit: true, want: "wait"},
			{at: time.Minute + 5, admit: true, want: "probe"},
			{at: time.Minute + 6, admit: true, want: "after"},
			{at: time.Minute + 7, health: herald.HealthFailure, probe: true, want: "opened"},
			{at: time.Minute + 8, admit: true, want: "wait"},
			{at: 2*time.Minute + 7, admit: true, want: "probe"},
		}},
		{"a successful probe closes it", []step{
			fail(0), fail(1), fail(2), fail(3), fail(4), {at: 5, health: herald.HealthFailure, want: "opened"},
			{at: time.Minute + 5, admit: true, want: "probe"},
			{at: time.Minute + 6, health: herald.HealthSuccess, probe: true, want: "closed"},
			{at: time.Minute + 7, admit: true, want: "go"},
			fail(time.Minute + 8), {at: time.Minute + 9, admit: true, want: "go"},
		}},
		{"a probe that says nothing of the endpoint lets the next attempt probe", []step{
			fail(0), fail(1), fail(2), fail(3), fail(4), {at: 5, health: herald.HealthFailure, want: "opened"},
			{at: time.Minute + 5, admit: true, want: "probe"},
			{at: time.Minute + 6, health: "", probe: true},
			{at: time.Minute + 7, admit: true, want: "probe"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b breaker
			for i, s := range c.steps {
				if s.admit {
					v := b.admit(at(s.at), nil)
					got := "go"
					switch {
					case !v.wait.IsZero():
						got = "wait"
						if v.reason != errCircuitOpen {
							t.Errorf("step %d: reason %q", i, v.reason)
						}
					case v.after != nil:
						got = "after"
					case v.probe:
						got = "probe"
					}
					if got != s.want {
						t.Fatalf("step %d at %s: admit %s, want %s", i, s.at, got, s.want)
					}
					continue
				}
				tr, until := b.record(p, at(s.at), s.health, s.probe, time.Time{})
				got := map[transition]string{unchanged: "", opened: "opened", closed: "closed"}[tr]
				if got != s.want {
					t.Fatalf("step %d at %s: record %q, want %q", i, s.at, got, s.want)
				}
				if tr == opened && !until.Equal(at(s.at).Add(p.open)) {
					t.Errorf("step %d: open until %s, want %s", i, until, at(s.at).Add(p.open))
				}
			}
		})
	}
}

// A circuit another process opened (the store's circuit_open_until) is
// respected, and a Retry-After pause makes attempts wait until it ends.
func TestBreakerSharedAndPaused(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var b breaker
	shared := now.Add(time.Minute)
	if v := b.admit(now, &shared); !v.wait.Equal(shared) || v.reason != errCircuitOpen {
		t.Errorf("open elsewhere: %+v, want a wait until %s", v, shared)
	}
	var c breaker
	c.record(breakerPolicy{failures: 5, window: 10 * time.Second, open: time.Minute}, now, herald.HealthThrottled, false, now.Add(2*time.Second))
	if v := c.admit(now.Add(time.Second), nil); !v.wait.Equal(now.Add(2*time.Second)) || v.reason != errRetryAfter {
		t.Errorf("paused: %+v, want a wait until the Retry-After's end", v)
	}
	if v := c.admit(now.Add(2*time.Second), nil); !v.wait.IsZero() || v.probe {
		t.Errorf("after the pause: %+v, want go", v)
	}
}

// AIMD: a lane's concurrency halves on every 429 or 503 and on timeouts
// (once per cooldown), grows by one after as many successes in a row as
// its limit and no sooner than aimdGrowth after its last change, and is
// forgotten at its most.
func TestAdaptiveConcurrency(t *testing.T) {
	d := New(Config{LaneConcurrency: 8})
	const url = "http://a.test/"
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	ok := herald.AttemptResult{Health: herald.HealthSuccess}
	refused, timeout := signal{overload: true, refused: true}, signal{overload: true}
	steps := []struct {
		res  herald.AttemptResult
		sig  signal
		at   time.Duration
		want int
	}{
		{herald.AttemptResult{Health: herald.HealthFailure}, timeout, 0, 4},
		{herald.AttemptResult{Health: herald.HealthFailure}, timeout, 100 * time.Millisecond, 4},   // within the cooldown
		{herald.AttemptResult{Health: herald.HealthThrottled}, refused, 100 * time.Millisecond, 2}, // a 429: at once
		{herald.AttemptResult{Health: herald.HealthFailure}, refused, 150 * time.Millisecond, 1},
		{herald.AttemptResult{Health: herald.HealthFailure}, timeout, 900 * time.Millisecond, 1}, // never below one
		{ok, signal{}, 1000 * time.Millisecond, 1},                                               // not sustained yet: 100 ms since the cut
		{ok, signal{}, 1400 * time.Millisecond, 2},
		{ok, signal{}, 1500 * time.Millisecond, 2}, // one success of two
		{ok, signal{}, 1600 * time.Millisecond, 2}, // two, but 200 ms since the last change
		{ok, signal{}, 1900 * time.Millisecond, 3},
		{herald.AttemptResult{Health: herald.HealthFailure}, signal{}, 2 * time.Second, 3}, // a plain failure: no cut
	}
	for i, s := range steps {
		d.adaptLocked(url, s.res, s.sig, now.Add(s.at))
		if got := d.workersLocked(url); got != s.want {
			t.Fatalf("step %d: %d workers, want %d", i, got, s.want)
		}
	}
	for i := range 5 {
		for range 8 {
			d.adaptLocked(url, ok, signal{}, now.Add(3*time.Second+time.Duration(i)*time.Second))
		}
	}
	if got := d.workersLocked(url); got != 8 {
		t.Errorf("after sustained success: %d workers, want 8", got)
	}
	if _, tracked := d.adaptive[url]; tracked {
		t.Errorf("a lane back at its most is still tracked")
	}
}
