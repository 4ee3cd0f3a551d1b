package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald/nango"
)

// TestOperationsBadInput: the bulk routes' bodies and the retry of a
// delivery that is already waiting.
func TestOperationsBadInput(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "ops", nil)
	for _, c := range []struct {
		path, body, mention string
	}{
		{"/deliveries/recover", `{}`, "since"},
		{"/deliveries/recover", `{"since":"2026-01-01T00:00:00Z"}`, "until"},
		{"/deliveries/recover", `{"since":"yesterday","until":"2026-01-01T00:00:00Z"}`, "since"},
		{"/deliveries/recover", `{"since":"2026-02-01T00:00:00Z","until":"2026-01-01T00:00:00Z"}`, "until"},
		{"/deliveries/recover", `{"since":"2020-01-01T00:00:00Z","until":"2026-01-01T00:00:00Z"}`, "90 days"},
		{"/deliveries/recover", `{"since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00Z","type":"auth"}`, "type"},
		{"/events/replay", `{"since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00Z","status":"sending"}`, "status"},
		{"/events/replay", `{"since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00Z","type":"push"}`, "type"},
		{"/events/replay", `{"since":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00Z","connection_id":5}`, "connection_id"},
		{"/events/replay", `[]`, "object"},
	} {
		checkError(t, f.do(t, http.MethodPost, c.path, env.SecretKey, c.body), http.StatusBadRequest, "invalid_body", c.mention)
	}
	checkError(t, f.do(t, http.MethodPost, "/deliveries/nope/retry", env.SecretKey, nil), http.StatusBadRequest, "invalid_uri_params")
	checkError(t, f.do(t, http.MethodPost, "/events/01a23ab2-4000-7cea-8a79-dfb7e30a9e25/replay", env.SecretKey, nil), http.StatusNotFound, "not_found")
	checkError(t, f.do(t, http.MethodGet, "/events?status=sending", env.SecretKey, nil), http.StatusBadRequest, "invalid_query_params", "status")

	// A delivery still waiting (its receiver hangs) cannot be retried.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	busy := f.newEnv(t, "busy", map[string]any{"primary_url": hang.URL + "/h"})
	r := f.do(t, http.MethodPost, "/events", busy.SecretKey, validAuth)
	r.want(t, http.StatusAccepted)
	var a accepted
	r.decode(t, &a)
	checkError(t, f.do(t, http.MethodPost, "/deliveries/"+a.Deliveries[0].ID+"/retry", busy.SecretKey, nil), http.StatusConflict, "conflict")
}

// TestDeliveryRequestHeaders: GET /deliveries/{id} shows the headers herald
// sends, signatures of the exact body included, with a forward's provider
// headers beside herald's own.
func TestDeliveryRequestHeaders(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	env := f.newEnv(t, "headers", map[string]any{"primary_url": rc.URL("/h")})
	r := f.do(t, http.MethodPost, "/events", env.SecretKey, validAuth)
	r.want(t, http.StatusAccepted)
	var a accepted
	r.decode(t, &a)
	var d struct {
		Body           json.RawMessage   `json:"body"`
		RequestHeaders map[string]string `json:"request_headers"`
	}
	if err := json.Unmarshal(f.do(t, http.MethodGet, "/deliveries/"+a.Deliveries[0].ID, env.SecretKey, nil).body, &d); err != nil {
		t.Fatal(err)
	}
	h := d.RequestHeaders
	if h["X-Nango-Hmac-Sha256"] != nango.SignHMAC(env.SigningKey, d.Body) || h["Content-Type"] != "application/json" ||
		h["X-Herald-Delivery-Id"] != a.Deliveries[0].ID || h["X-Herald-Event-Id"] != a.ID {
		t.Errorf("request_headers %v", h)
	}
}
