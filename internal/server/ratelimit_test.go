package server

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/testkit"
)

// Two herald processes on one PostgreSQL database share an endpoint's
// rate_limit_per_s (SPEC §13): together they send no faster than the
// limit (within the bucket's burst), where each alone would send at the
// whole rate, and every delivery arrives.
func TestSharedRateLimit(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := startHeraldOn(t, dsn)
	b := startHeraldOn(t, dsn)
	b.adminKey = a.adminKey

	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)

	key := a.newEnv(t, "prod", `{"primary_url":"`+srv.URL+`/hooks"}`)
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	a.call(t, "GET", "/endpoints", key, nil, "", http.StatusOK, &page)
	if len(page.Data) != 1 {
		t.Fatalf("%d endpoints, want 1", len(page.Data))
	}
	const rate, events = 20, 40
	a.call(t, "PATCH", "/endpoints/"+page.Data[0].ID, key, nil, `{"rate_limit_per_s":20}`, http.StatusOK, nil)

	// Each process takes in half of the events and hands them to its own
	// dispatcher.
	var wg sync.WaitGroup
	for i, h := range []*metricsHerald{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range events / 2 {
				h.call(t, "POST", "/events", key, nil, syncEvent(i*events+n), http.StatusAccepted, nil)
			}
		}()
	}
	wg.Wait()
	testkit.WaitFor(t, "every delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(arrivals) == events
	})
	mu.Lock()
	defer mu.Unlock()
	// The bucket starts full (a tenth of a second's worth, 2 tokens) and
	// each process may hold a handful taken but not spent: at the shared
	// rate 40 deliveries take at least (40-6)/20 s; two processes each
	// at the whole rate would take about 1 s.
	span := arrivals[len(arrivals)-1].Sub(arrivals[0])
	if least := time.Duration(events-6) * time.Second / rate; span < least {
		t.Errorf("%d deliveries in %s: faster than the shared limit of %d/s allows (at least %s)", events, span, rate, least)
	}
}
