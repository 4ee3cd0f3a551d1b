package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// switchable is a receiver that answers 500 until it is switched to 204,
// and counts the requests it gets.
func switchable(t *testing.T) (srv *httptest.Server, hits *atomic.Int64, healthy *atomic.Bool) {
	hits, healthy = new(atomic.Int64), new(atomic.Bool)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if healthy.Load() {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv, hits, healthy
}

// An endpoint's circuit breaker, on both stores (SPEC §13): more than 5
// failures within 10 s open it; while open, deliveries wait (pending,
// "circuit open", due when it closes) without spending attempts; then one
// probe goes: a failure opens it again, a success closes it, and every
// delivery arrives within its retry budget.
func TestEndpointCircuit(t *testing.T) {
	// Long enough that the checks of the open circuit below are done
	// before its probe goes, even on a loaded machine: a probe that came
	// first would be counted as an attempt before the circuit opened.
	const open = 1500 * time.Millisecond
	onEachStore(t, options{circuitOpen: open}, func(t *testing.T, f *fixture) {
		srv, hits, healthy := switchable(t)
		url := srv.URL + "/hook"
		const retries = 8
		env := f.newEnv(t, "prod", map[string]any{"primary_url": url,
			"retry": map[string]any{"max_retries": float64(retries), "initial_delay_ms": float64(20), "multiplier": float64(1)}})
		const events = 3
		for range events {
			f.do(t, "POST", "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
		}

		// Open: six failures in a row, then the deliveries wait.
		var ep endpointView
		waitFor(t, "the circuit open", func() bool {
			ep = endpointsOf(t, f, env)[url]
			return ep.State == "circuit_open"
		})
		if ep.CircuitOpenUntil == nil {
			t.Fatalf("an open circuit without circuit_open_until: %+v", ep)
		}
		waitFor(t, "every delivery waiting for the circuit", func() bool {
			dels := listDeliveries(t, f, env, "")
			for _, d := range dels {
				if d["status"] != "pending" || d["last_error"] != "circuit open" {
					return false
				}
			}
			return len(dels) == events
		})
		opened := hits.Load()
		if opened < 6 || opened > 6+events {
			t.Errorf("%d attempts before the circuit opened; want more than 5, and no more than those in flight", opened)
		}
		for _, d := range listDeliveries(t, f, env, "") {
			if n := d["attempts"].(float64); n >= retries+1 {
				t.Errorf("delivery %v spent its whole budget (%v attempts) before the circuit opened", d["id"], n)
			}
			next, _ := time.Parse(time.RFC3339Nano, d["next_attempt_at"].(string))
			until, _ := time.Parse(time.RFC3339Nano, *ep.CircuitOpenUntil)
			if next.Before(until.Add(-time.Millisecond)) {
				t.Errorf("delivery %v due at %s, before the circuit closes at %s", d["id"], next, until)
			}
		}

		// Half-open: one probe, which fails: open again, one request more.
		first := *ep.CircuitOpenUntil
		waitFor(t, "the probe failed and the circuit opened again", func() bool {
			ep = endpointsOf(t, f, env)[url]
			return ep.State == "circuit_open" && ep.CircuitOpenUntil != nil && *ep.CircuitOpenUntil != first
		})
		if got := hits.Load(); got != opened+1 {
			t.Errorf("%d requests while half-open; want one probe", got-opened)
		}

		// Close: the next probe succeeds, and everything waiting is sent.
		healthy.Store(true)
		waitFor(t, "every delivery succeeded", func() bool {
			return len(listDeliveries(t, f, env, "?status=succeeded")) == events
		})
		ep = endpointsOf(t, f, env)[url]
		if ep.State != "healthy" || ep.CircuitOpenUntil != nil || ep.ConsecutiveFailures != 0 {
			t.Errorf("after a successful probe: %+v; want healthy, circuit closed", ep)
		}
		for _, d := range listDeliveries(t, f, env, "") {
			if n := d["attempts"].(float64); n > retries+1 {
				t.Errorf("delivery %v took %v attempts, beyond its budget of %d", d["id"], n, retries+1)
			}
		}
	})
}

// herald disables an endpoint by itself, on both stores: at once on 410
// Gone, and once every attempt has failed for the failure window (five
// days by default: the dispatcher's clock runs six days ahead here). Its
// deliveries are then held, new ones too, none lost; enabling it sends
// them all, and the environment's alert_url hears of both changes.
func TestEndpointDisabledByHerald(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		ahead  time.Duration
		reason string
	}{
		{"410 Gone", http.StatusGone, 0, "gone"},
		{"failing for five days", http.StatusInternalServerError, 6 * 24 * time.Hour, "failing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := func() time.Time { return time.Now().Add(c.ahead) }
			// Short circuit openings: the failing endpoint is probed often
			// enough for its failure window to be judged within the test.
			onEachStore(t, options{dispatchNow: clock, circuitOpen: 100 * time.Millisecond}, func(t *testing.T, f *fixture) {
				var healthy atomic.Bool
				var hits atomic.Int64
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					if !healthy.Load() {
						w.WriteHeader(c.status)
					}
				}))
				t.Cleanup(srv.Close)
				alerts := newReceiver(t)
				url := srv.URL + "/hook"
				env := f.newEnv(t, "prod", map[string]any{"primary_url": url, "alert_url": alerts.URL("/alerts"),
					"retry": map[string]any{"max_retries": float64(30), "initial_delay_ms": float64(100), "multiplier": float64(1)}})
				f.do(t, "POST", "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
				var ep endpointView
				waitFor(t, "the endpoint disabled", func() bool {
					ep = endpointsOf(t, f, env)[url]
					return ep.State == "disabled"
				})
				if ep.DisabledReason == nil || *ep.DisabledReason != c.reason || ep.DisabledAt == nil {
					t.Errorf("disabled endpoint %+v, want reason %q", ep, c.reason)
				}
				waitFor(t, "its delivery held", func() bool { return len(listDeliveries(t, f, env, "?status=held")) == 1 })
				const more = 4
				for range more {
					f.do(t, "POST", "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
				}
				waitFor(t, "every delivery held", func() bool { return len(listDeliveries(t, f, env, "?status=held")) == 1+more })
				sent := hits.Load()

				healthy.Store(true)
				f.do(t, "POST", "/endpoints/"+ep.ID+"/enable", env.SecretKey, nil).want(t, http.StatusOK)
				waitFor(t, "every held delivery sent", func() bool {
					return len(listDeliveries(t, f, env, "?status=succeeded")) == 1+more
				})
				if got := hits.Load() - sent; got != 1+more {
					t.Errorf("%d requests after enabling, want %d", got, 1+more)
				}
				waitFor(t, "both notices at alert_url", func() bool { return len(alerts.Requests()) == 2 })
				for i, want := range []string{"endpoint.disabled", "endpoint.enabled"} {
					var b struct {
						Type string `json:"type"`
					}
					if err := json.Unmarshal(alerts.Requests()[i].Body, &b); err != nil || b.Type != want {
						t.Errorf("notice %d: %s (%v), want %s", i, alerts.Requests()[i].Body, err, want)
					}
				}
			})
		})
	}
}
