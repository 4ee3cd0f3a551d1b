package dispatch_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/dispatch"
)

// A 429 or 503 with Retry-After delays the whole endpoint (SPEC §13), in
// both of its forms, capped by the retry policy's largest delay: the
// endpoint's other deliveries wait (a short wait in their lane, with no
// attempt spent), nothing reaches it before the wait ends, and then
// everything does.
func TestRetryAfterDelaysTheEndpoint(t *testing.T) {
	for _, c := range []struct {
		name       string
		status     int
		retryAfter func(now time.Time) string
		maxDelayMS int64
		wait       time.Duration // what the endpoint's pause should be, about
	}{
		{"seconds", http.StatusTooManyRequests, func(time.Time) string { return "1" }, 86_400_000, time.Second},
		{"HTTP date", http.StatusServiceUnavailable,
			func(now time.Time) string { return now.Add(2 * time.Second).UTC().Format(http.TimeFormat) }, 86_400_000, time.Second},
		// Uncapped, the hour would outlast the test's bounded wait for
		// every delivery.
		{"capped by the policy", http.StatusTooManyRequests, func(time.Time) string { return "3600" }, 1200, 1200 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var arrivals []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				now := time.Now()
				mu.Lock()
				arrivals = append(arrivals, now)
				first := len(arrivals) == 1
				mu.Unlock()
				if first {
					w.Header().Set("Retry-After", c.retryAfter(now))
					w.WriteHeader(c.status)
				}
			}))
			t.Cleanup(srv.Close)
			f := start(t, dispatch.Config{})
			url := srv.URL + "/hook"
			f.env.Settings.PrimaryURL = &url
			f.env.Settings.Retry = herald.RetryPolicy{MaxRetries: 3, InitialDelayMS: 10, Multiplier: 1, MaxDelayMS: c.maxDelayMS}
			if err := f.store.UpdateSettings(context.Background(), f.env.ID, f.env.Settings); err != nil {
				t.Fatal(err)
			}
			f.post(t, 1)
			waitFor(t, "the throttled attempt", func() bool { mu.Lock(); defer mu.Unlock(); return len(arrivals) == 1 })
			f.post(t, 3)
			waitFor(t, "every delivery succeeded", func() bool { return f.count(t, herald.StatusSucceeded, "") == 4 })
			// The wait spent no attempt: the three later deliveries
			// succeeded at their first.
			ds, err := f.store.ListDeliveries(context.Background(), f.env.ID, herald.DeliveryFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			firsts := 0
			for _, d := range ds {
				if d.Attempts == 1 {
					firsts++
				}
			}
			if firsts != 3 {
				t.Errorf("%d deliveries succeeded at their first attempt, want 3 (the wait spends none)", firsts)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(arrivals) != 5 {
				t.Fatalf("%d requests, want 5 (one throttled, four delivered)", len(arrivals))
			}
			for _, a := range arrivals[1:] {
				// The pause runs from the end of the throttled attempt; an
				// HTTP date has whole seconds, so allow for the rounding.
				if gap := a.Sub(arrivals[0]); gap < c.wait-50*time.Millisecond {
					t.Errorf("a request %s after the throttled one; want none before %s", gap, c.wait)
				}
			}
		})
	}
}
