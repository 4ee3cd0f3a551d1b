package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	herald "github.com/heraldhq/herald"
)

type endpointView struct {
	ID                  string            `json:"id"`
	URL                 string            `json:"url"`
	State               string            `json:"state"`
	DisabledReason      *string           `json:"disabled_reason"`
	DisabledAt          *string           `json:"disabled_at"`
	ConsecutiveFailures int               `json:"consecutive_failures"`
	FailingSince        *string           `json:"failing_since"`
	SuccessRate1h       *float64          `json:"success_rate_1h"`
	P50MS1h             *int              `json:"p50_ms_1h"`
	Concurrency         int               `json:"concurrency"`
	MaxConcurrency      *int              `json:"max_concurrency"`
	RateLimitPerS       *int              `json:"rate_limit_per_s"`
	Headers             map[string]string `json:"headers"`
	CircuitOpenUntil    *string           `json:"circuit_open_until"`
	CreatedAt           string            `json:"created_at"`
	UpdatedAt           string            `json:"updated_at"`
}

// endpointsOf lists env's endpoints by URL.
func endpointsOf(t *testing.T, f *fixture, env *herald.Environment) map[string]endpointView {
	t.Helper()
	var page struct {
		Data       []endpointView `json:"data"`
		NextCursor *string        `json:"next_cursor"`
	}
	r := f.do(t, "GET", "/endpoints", env.SecretKey, nil)
	r.want(t, http.StatusOK)
	r.decode(t, &page)
	out := map[string]endpointView{}
	for _, ep := range page.Data {
		out[ep.URL] = ep
	}
	return out
}

func endpointOf(t *testing.T, f *fixture, env *herald.Environment, id string) endpointView {
	t.Helper()
	var ep endpointView
	r := f.do(t, "GET", "/endpoints/"+id, env.SecretKey, nil)
	r.want(t, http.StatusOK)
	r.decode(t, &ep)
	return ep
}

// failing is a receiver that answers 500 to every request and counts them.
func failing(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// The life of an endpoint through the API, on both stores: created with
// the environment's URLs, static headers sent with each attempt, disabled
// (its deliveries held, none lost), enabled (the held ones sent, oldest
// first), figures of the last hour, failures counted.
func TestEndpointLifecycle(t *testing.T) {
	onEachStore(t, options{}, func(t *testing.T, f *fixture) {
		a, b := newReceiver(t), newReceiver(t)
		bad, badHits := failing(t)
		env := f.newEnv(t, "prod", map[string]any{"primary_url": a.URL("/a"), "secondary_url": b.URL("/b"),
			"retry": map[string]any{"max_retries": float64(0)}})
		eps := endpointsOf(t, f, env)
		epA, epB := eps[a.URL("/a")], eps[b.URL("/b")]
		if len(eps) != 2 || epA.ID == "" || epB.ID == "" {
			t.Fatalf("GET /endpoints = %+v, want the primary and secondary URLs", eps)
		}
		if epA.State != "healthy" || epA.Concurrency != 32 || epA.Headers == nil || len(epA.Headers) != 0 ||
			epA.SuccessRate1h != nil || epA.P50MS1h != nil || epA.DisabledReason != nil || epA.RateLimitPerS != nil {
			t.Fatalf("a new endpoint: %+v", epA)
		}

		// Static headers go with every attempt; herald's own stay herald's.
		r := f.do(t, "PATCH", "/endpoints/"+epA.ID, env.SecretKey,
			`{"headers":{"cf-access-client-id":"id-1","X-Team":"ops"},"max_concurrency":1}`)
		r.want(t, http.StatusOK)
		var patched endpointView
		r.decode(t, &patched)
		if !(patched.Headers["Cf-Access-Client-Id"] == "id-1" && patched.Headers["X-Team"] == "ops") ||
			patched.MaxConcurrency == nil || *patched.MaxConcurrency != 1 || patched.Concurrency != 1 {
			t.Fatalf("after PATCH: %+v", patched)
		}
		f.do(t, "POST", "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
		waitFor(t, "the first event at a and b", func() bool { return len(a.Requests()) == 1 && len(b.Requests()) == 1 })
		got := a.Requests()[0].Header
		if got.Get("Cf-Access-Client-Id") != "id-1" || got.Get("X-Team") != "ops" || got.Get("X-Nango-Hmac-Sha256") == "" {
			t.Errorf("a got headers %v, want the static ones and herald's signature", got)
		}
		if h := b.Requests()[0].Header; h.Get("X-Team") != "" {
			t.Errorf("b got a's static header: %v", h)
		}

		// Disabled: new deliveries are held, none attempted, none lost.
		r = f.do(t, "POST", "/endpoints/"+epA.ID+"/disable", env.SecretKey, nil)
		r.want(t, http.StatusOK)
		var disabled endpointView
		r.decode(t, &disabled)
		if disabled.State != "disabled" || disabled.DisabledReason == nil || *disabled.DisabledReason != "manual" || disabled.DisabledAt == nil {
			t.Fatalf("after disable: %+v", disabled)
		}
		const n = 5
		var ids []string
		for range n {
			r := f.do(t, "POST", "/events", env.SecretKey, validAuth)
			r.want(t, http.StatusAccepted)
			var ev accepted
			r.decode(t, &ev)
			ids = append(ids, ev.ID)
		}
		waitFor(t, "b to get every event", func() bool { return len(b.Requests()) == 1+n })
		waitFor(t, "a's deliveries held", func() bool {
			return len(listDeliveries(t, f, env, "?status=held")) == n
		})
		if len(a.Requests()) != 1 {
			t.Fatalf("a disabled endpoint got %d requests, want none beyond the first", len(a.Requests())-1)
		}

		// Enabled: the held deliveries go, oldest first.
		r = f.do(t, "POST", "/endpoints/"+epA.ID+"/enable", env.SecretKey, nil)
		r.want(t, http.StatusOK)
		var enabled endpointView
		r.decode(t, &enabled)
		if enabled.State != "healthy" || enabled.DisabledReason != nil || enabled.DisabledAt != nil {
			t.Fatalf("after enable: %+v", enabled)
		}
		waitFor(t, "a to get the held events", func() bool { return len(a.Requests()) == 1+n })
		var order []string
		for _, req := range a.Requests()[1:] {
			order = append(order, req.Header.Get("X-Herald-Event-Id"))
		}
		if !slices.Equal(order, ids) {
			t.Errorf("held events arrived in order %v, want the order they were sent %v", order, ids)
		}
		if left := listDeliveries(t, f, env, "?status=held"); len(left) != 0 {
			t.Errorf("%d deliveries still held after enabling", len(left))
		}
		waitFor(t, "a's figures", func() bool {
			ep := endpointOf(t, f, env, epA.ID)
			return ep.SuccessRate1h != nil && *ep.SuccessRate1h == 1 && ep.P50MS1h != nil
		})

		// Failures count until a success; the endpoint is degraded meanwhile.
		r = f.do(t, "PATCH", "/environment/webhook", env.SecretKey, fmt.Sprintf(`{"secondary_url":%q}`, bad.URL+"/bad"))
		r.want(t, http.StatusOK)
		for range 3 {
			f.do(t, "POST", "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
		}
		waitFor(t, "3 failed attempts", func() bool { return badHits.Load() == 3 })
		var badEP endpointView
		waitFor(t, "the failures counted", func() bool {
			badEP = endpointsOf(t, f, env)[bad.URL+"/bad"]
			return badEP.ConsecutiveFailures == 3
		})
		if badEP.State != "degraded" || badEP.FailingSince == nil || badEP.SuccessRate1h == nil || *badEP.SuccessRate1h != 0 {
			t.Errorf("a failing endpoint: %+v", badEP)
		}
	})
}

func listDeliveries(t *testing.T, f *fixture, env *herald.Environment, query string) []map[string]any {
	t.Helper()
	var page struct {
		Data       []map[string]any `json:"data"`
		NextCursor *string          `json:"next_cursor"`
	}
	r := f.do(t, "GET", "/deliveries"+query, env.SecretKey, nil)
	r.want(t, http.StatusOK)
	r.decode(t, &page)
	return page.Data
}

// PATCH /endpoints/{id} refuses what it cannot keep, and changes nothing.
func TestEndpointPatchRefused(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/a")})
	other := f.newEnv(t, "other", map[string]any{"primary_url": rc.URL("/o")})
	ep := endpointsOf(t, f, env)[rc.URL("/a")]
	otherEP := endpointsOf(t, f, other)[rc.URL("/o")]
	for _, c := range []struct {
		body, mention string
	}{
		{`{"headers":{"X-Nango-Signature":"forged"}}`, "X-Nango-Signature"},
		{`{"headers":{"content-type":"text/plain"}}`, "Content-Type"},
		{`{"headers":{"Host":"evil.example"}}`, "Host"},
		{`{"headers":{"bad name":"x"}}`, "header name"},
		{`{"headers":{"X-A":"line\r\nX-Injected: 1"}}`, "line breaks"},
		{`{"headers":{"X-A":1}}`, "string"},
		{`{"headers":{"x-a":"1","X-A":"2"}}`, "twice"},
		{`{"headers":"X-A: 1"}`, "object"},
		{`{"rate_limit_per_s":0}`, "rate_limit_per_s"},
		{`{"rate_limit_per_s":1.5}`, "rate_limit_per_s"},
		{`{"max_concurrency":-1}`, "max_concurrency"},
		{`{"max_concurrency":"4"}`, "max_concurrency"},
		{`{"url":"https://elsewhere.example"}`, "unknown field"},
		{`[]`, "object"},
	} {
		r := f.do(t, "PATCH", "/endpoints/"+ep.ID, env.SecretKey, c.body)
		checkError(t, r, http.StatusBadRequest, "invalid_body", c.mention)
	}
	if got := endpointOf(t, f, env, ep.ID); len(got.Headers) != 0 || got.RateLimitPerS != nil || got.MaxConcurrency != nil {
		t.Errorf("refused PATCHes changed the endpoint: %+v", got)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/endpoints/" + otherEP.ID},
		{"PATCH", "/endpoints/" + otherEP.ID},
		{"POST", "/endpoints/" + otherEP.ID + "/disable"},
		{"POST", "/endpoints/" + otherEP.ID + "/enable"},
	} {
		var body any
		if c.method == "PATCH" {
			body = `{"rate_limit_per_s":1}`
		}
		checkError(t, f.do(t, c.method, c.path, env.SecretKey, body), http.StatusNotFound, "not_found")
	}
	if got := endpointOf(t, f, other, otherEP.ID); got.State != "healthy" || got.RateLimitPerS != nil {
		t.Errorf("another environment's requests changed its endpoint: %+v", got)
	}
	checkError(t, f.do(t, "GET", "/endpoints/not-a-uuid", env.SecretKey, nil), http.StatusBadRequest, "invalid_uri_params")
	// null removes a limit or the headers.
	f.do(t, "PATCH", "/endpoints/"+ep.ID, env.SecretKey, `{"rate_limit_per_s":7,"headers":{"X-A":"1"}}`).want(t, http.StatusOK)
	r := f.do(t, "PATCH", "/endpoints/"+ep.ID, env.SecretKey, `{"rate_limit_per_s":null,"headers":null}`)
	r.want(t, http.StatusOK)
	var got endpointView
	r.decode(t, &got)
	if got.RateLimitPerS != nil || len(got.Headers) != 0 {
		t.Errorf("after removing: %+v", got)
	}
}

// An endpoint with a rate and a concurrency limit still gets every
// delivery (the spacing itself is TestGates', in internal/dispatch, on an
// explicit clock).
func TestEndpointLimitsDeliverEverything(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/a")})
	ep := endpointsOf(t, f, env)[rc.URL("/a")]
	f.do(t, "PATCH", "/endpoints/"+ep.ID, env.SecretKey, `{"rate_limit_per_s":50,"max_concurrency":2}`).want(t, http.StatusOK)
	for range 10 {
		f.do(t, "POST", "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
	}
	waitFor(t, "10 deliveries", func() bool { return len(rc.Requests()) == 10 })
	// Outcomes are written in batches after the answers: wait for them.
	waitFor(t, "10 deliveries succeeded", func() bool { return len(listDeliveries(t, f, env, "?status=succeeded")) == 10 })
	if n := len(rc.Requests()); n != 10 {
		t.Errorf("%d requests, want 10", n)
	}
}
