package e2e

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// eventView is an event as GET /events lists it.
type eventView struct {
	ID      string  `json:"id"`
	Type    string  `json:"type"`
	Status  string  `json:"status"`
	Skipped *string `json:"skipped"`
}

func (e *env) events(t *testing.T, query string) []eventView {
	t.Helper()
	var page struct {
		Data []eventView `json:"data"`
	}
	e.do(t, http.MethodGet, "/events?"+query, nil).decode(t, &page)
	return page.Data
}

func window(from time.Time) map[string]any {
	return map[string]any{"since": from.Add(-time.Second).UTC().Format(time.RFC3339Nano),
		"until": time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)}
}

// TestRetryRecoverReplay: a failed delivery retried by hand succeeds with
// its attempts appended; the failed deliveries of a window recovered; events
// skipped for want of a URL replayed once one is set; a second identical
// bulk call queues nothing.
func TestRetryRecoverReplay(t *testing.T) { forEachStore(t, testRetryRecoverReplay) }

func testRetryRecoverReplay(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	var healthy atomic.Bool
	rc := newReceiver(t, func(received) reply {
		if healthy.Load() {
			return reply{}
		}
		return reply{Status: http.StatusInternalServerError}
	})
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "retry": map[string]any{"max_retries": 0}})
	start := time.Now()

	// Three events fail (no retries).
	var ids []string
	for i := range 3 {
		a := e.post(t, fmt.Sprintf(`{"type":"async_action","connectionId":"c%d","providerConfigKey":"github","payload":{"id":"a%d","statusUrl":"/s"}}`, i, i))
		ids = append(ids, a.Deliveries[0].ID)
	}
	for _, id := range ids {
		if d := e.waitDelivery(t, id, "failed", "succeeded"); d.Status != "failed" {
			t.Fatalf("%s, want failed", d)
		}
	}
	if evs := e.events(t, "status=failed"); len(evs) != 3 {
		t.Fatalf("GET /events?status=failed: %d events, want 3", len(evs))
	}
	healthy.Store(true)

	// Retry one: a new round, appended to its log.
	r := e.do(t, http.MethodPost, "/deliveries/"+ids[0]+"/retry", nil)
	r.want(t, http.StatusAccepted)
	d := e.waitDelivery(t, ids[0], "succeeded", "failed")
	if d.Status != "succeeded" || fmt.Sprint(codes(d.AttemptLog)) != "[500 200]" || d.AttemptLog[1].Number != 2 {
		t.Errorf("after retry: %s, attempt codes %v", d, codes(d.AttemptLog))
	}
	checkError(t, e.do(t, http.MethodPost, "/deliveries/01a23ab2-4000-7cea-8a79-dfb7e30a9e25/retry", nil), http.StatusNotFound, "not_found")

	// Recover the two left; the same call again queues nothing.
	r = e.do(t, http.MethodPost, "/deliveries/recover", window(start))
	r.want(t, http.StatusAccepted)
	var rec struct {
		Requeued int `json:"requeued"`
	}
	r.decode(t, &rec)
	if rec.Requeued != 2 {
		t.Errorf("recover requeued %d, want 2", rec.Requeued)
	}
	for _, id := range ids[1:] {
		if d := e.waitDelivery(t, id, "succeeded", "failed"); d.Status != "succeeded" {
			t.Errorf("recovered %s, want succeeded", d)
		}
	}

	// Events skipped for want of a URL, replayed once there is one.
	s := newEnv(t, h)
	sStart := time.Now()
	for range 2 {
		if a := s.post(t, asyncEvent); len(a.Deliveries) != 0 {
			t.Fatalf("an environment without URL delivered: %+v", a)
		}
	}
	if evs := s.events(t, "status=skipped"); len(evs) != 2 || evs[0].Status != "skipped" {
		t.Fatalf("skipped events: %+v", evs)
	}
	s.patch(t, map[string]any{"primary_url": rc.URL("/late")})
	body := window(sStart)
	body["status"] = "skipped"
	var q struct {
		Queued int `json:"queued"`
	}
	r = s.do(t, http.MethodPost, "/events/replay", body)
	r.want(t, http.StatusAccepted)
	r.decode(t, &q)
	if q.Queued != 2 {
		t.Fatalf("replay queued %d, want 2", q.Queued)
	}
	rc.waitFor(t, "the replayed events", func(reqs []received) bool {
		n := 0
		for _, r := range reqs {
			if r.Path == "/late" {
				n++
			}
		}
		return n == 2
	})
	r = s.do(t, http.MethodPost, "/events/replay", body)
	r.want(t, http.StatusAccepted)
	r.decode(t, &q)
	if q.Queued != 0 {
		t.Errorf("the same replay again queued %d, want 0", q.Queued)
	}
	waitFor(t, stateTimeout, "replayed events to succeed", func() (bool, string) {
		evs := s.events(t, "status=succeeded")
		return len(evs) == 2, fmt.Sprint(evs)
	})

	// One event again.
	evs := s.events(t, "")
	r = s.do(t, http.MethodPost, "/events/"+evs[0].ID+"/replay", nil)
	r.want(t, http.StatusAccepted)
	r.decode(t, &q)
	if q.Queued != 1 {
		t.Errorf("replay of one event queued %d, want 1", q.Queued)
	}
	rc.waitFor(t, "the replayed event", func(reqs []received) bool {
		n := 0
		for _, r := range reqs {
			if r.Path == "/late" {
				n++
			}
		}
		return n == 3
	})
}
