package dispatch

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// An endpoint's gate follows its limits: none, no gate; the same limits,
// the same gate; changed ones, a new gate. Its token bucket spaces
// attempts evenly (a burst of one) and its slots bound those in flight.
func TestGates(t *testing.T) {
	var g gates
	if gt := g.of(nil); gt != nil {
		t.Fatal("a gate for no endpoint")
	}
	if gt := g.of(&herald.Endpoint{ID: "a"}); gt != nil {
		t.Fatal("a gate for an endpoint without limits")
	}
	five, two := 5, 2
	ep := &herald.Endpoint{ID: "a", RateLimitPerS: &five, MaxConcurrency: &two}
	gt := g.of(ep)
	if gt == nil || g.of(ep) != gt {
		t.Fatal("the same limits did not give the same gate")
	}
	now := time.Unix(1_000_000, 0)
	for i := range 10 {
		want := time.Duration(i) * 200 * time.Millisecond
		if got := gt.limiter.ReserveN(now, 1).DelayFrom(now); got != want {
			t.Fatalf("attempt %d at 5/s waits %s, want %s", i+1, got, want)
		}
	}
	if cap(gt.slots) != 2 {
		t.Fatalf("%d slots, want 2", cap(gt.slots))
	}
	three := 3
	if changed := g.of(&herald.Endpoint{ID: "a", RateLimitPerS: &five, MaxConcurrency: &three}); changed == gt || cap(changed.slots) != 3 {
		t.Fatal("changed limits kept the old gate")
	}
}
