package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

// forwardHeader flattens a sample's headers into the name, value pairs
// client.do takes.
func forwardHeader(h http.Header) []string {
	var pairs []string
	for name, vs := range h {
		for _, v := range vs {
			pairs = append(pairs, name, v)
		}
	}
	return pairs
}

// TestForwardSurvivesKill: a provider's webhook answered 200 is never
// lost. The app holds every forward until the provider has had all its
// answers, herald is killed (-9) at once, and after the restart every
// forward arrives, signed, with the body Nango would send.
func TestForwardSurvivesKill(t *testing.T) { forEachStore(t, testForwardSurvivesKill) }

func testForwardSurvivesKill(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{Lease: crashLease})
	release := make(chan struct{})
	rc := newReceiver(t, func(received) reply {
		select {
		case <-release:
			return reply{}
		case <-time.After(stateTimeout):
			return reply{Status: http.StatusServiceUnavailable}
		}
	})
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/forwards")})

	const pck = "stripe-connect"
	build := forwardtest.Samples()["stripe"]
	s0 := build("", time.Now())
	e.do(t, http.MethodPut, "/integrations/"+pck, map[string]any{"provider": "stripe", "credentials": s0.Credentials}).want(t, http.StatusOK)
	e.do(t, http.MethodPut, "/connections/"+pck+"/acct-owner", map[string]any{"connection_config": s0.ConnectionConfig}).want(t, http.StatusOK)

	const n = 20
	path := "/webhook/" + e.ID + "/" + pck
	anon := h.Anon()
	eventIDs := map[string]bool{}
	for range n {
		s := build(h.URL+path, time.Now())
		r := anon.do(t, http.MethodPost, path, s.Body, forwardHeader(s.Header)...)
		r.want(t, http.StatusOK)
		if string(r.Body) != `{"status":"success"}` {
			t.Fatalf("answer to the provider %s", r.Body)
		}
	}
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	e.do(t, http.MethodGet, "/events?type=forward&provider_config_key="+pck, nil).decode(t, &page)
	for _, ev := range page.Data {
		eventIDs[ev.ID] = true
	}
	if len(eventIDs) != n {
		t.Fatalf("%d inbound events logged, want %d", len(eventIDs), n)
	}
	h.Kill()
	t.Logf("kill -9 right after %d provider requests were answered 200; the app had received %d forwards (held)", n, rc.Count())
	close(release)

	h2 := h.Restart(t)
	e.base = h2.URL
	seen := map[string]bool{}
	rc.waitFor(t, "every forward after the restart", func(reqs []received) bool {
		for _, r := range reqs {
			var b struct {
				ConnectionID string `json:"connectionId"`
				Type         string `json:"type"`
			}
			id := r.Header.Get("X-Herald-Event-Id")
			if json.Unmarshal(r.Body, &b) == nil && b.Type == "forward" && b.ConnectionID == "acct-owner" &&
				r.Header.Get("X-Nango-Hmac-Sha256") == hmacHex(e.SigningKey, r.Body) && eventIDs[id] {
				seen[id] = true
			}
		}
		return len(seen) == n
	})
	t.Logf("after the restart: %d distinct forwards of %d arrived (%d requests in all)", len(seen), n, rc.Count())
}
