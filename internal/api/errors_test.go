package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/store/cache"
)

// bigEvent is a forward event of more than n bytes.
func bigEvent(n int) string {
	return `{"type":"forward","connectionId":"c1","providerConfigKey":"p","payload":"` + strings.Repeat("x", n) + `"}`
}

// chunked hides a body's length, so that it is sent without
// Content-Length and the limit must be enforced while reading.
func chunked(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

// TestErrorEnvelope: every refusal of the API is the JSON envelope with the
// status and code of docs/errors.md, and names what is wrong.
func TestErrorEnvelope(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "prod", nil)
	key := env.SecretKey
	unknownID := "0190a4c2-0000-7000-8000-00000000abcd"
	const (
		ib, ui, uq = "invalid_body", "invalid_uri_params", "invalid_query_params"
		bad        = http.StatusBadRequest
	)
	cases := []struct {
		name, method, path, key string
		body                    any
		hdr                     []string
		status                  int
		code                    string
		mention                 []string
	}{
		// Routing: the mux's own answers become the envelope.
		{"unknown_route", "GET", "/nope", "", nil, nil, http.StatusNotFound, "not_found", nil},
		{"unknown_route_authenticated", "POST", "/events/batch/x", key, validAuth, nil, http.StatusNotFound, "not_found", nil},
		{"unknown_admin_route", "GET", "/admin/keys", adminKey, nil, nil, http.StatusNotFound, "not_found", nil},
		{"method_not_allowed_events", "DELETE", "/events", key, nil, nil, http.StatusMethodNotAllowed, "method_not_allowed", nil},
		{"method_not_allowed_environment", "PUT", "/environment", key, `{}`, nil, http.StatusMethodNotAllowed, "method_not_allowed", nil},
		{"method_not_allowed_healthz", "POST", "/healthz", "", nil, nil, http.StatusMethodNotAllowed, "method_not_allowed", nil},

		// Bodies.
		{"event_malformed_json", "POST", "/events", key, `{"type":"auth",`, nil, bad, ib, []string{"JSON"}},
		{"event_empty_body", "POST", "/events", key, "", nil, bad, ib, nil},
		{"event_not_object", "POST", "/events", key, `[1]`, nil, bad, ib, nil},
		{"event_missing_field", "POST", "/events", key, strings.Replace(validSync, `"model":"M",`, ``, 1), nil, bad, ib, []string{"model"}},
		{"batch_names_index", "POST", "/events/batch", key, `{"events":[` + validAuth + `,{"type":"nope"}]}`, nil, bad, ib, []string{"events[1].type"}},
		{"admin_malformed_json", "POST", "/admin/environments", adminKey, `{"name":`, nil, bad, ib, []string{"JSON"}},
		{"patch_malformed_json", "PATCH", "/environment/webhook", key, `{"on_sync_error":`, nil, bad, ib, []string{"JSON"}},
		{"idempotency_key_too_long", "POST", "/events", key, validAuth, []string{"Idempotency-Key", strings.Repeat("k", 256)}, bad, ib, []string{"Idempotency-Key"}},

		// Sizes.
		{"event_over_1MiB", "POST", "/events", key, bigEvent(api.MaxEventBody), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},
		{"event_over_1MiB_chunked", "POST", "/events", key, chunked(bigEvent(api.MaxEventBody)), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},
		{"patch_over_64KiB", "PATCH", "/environment/webhook", key, `{"primary_url":"http://127.0.0.1/` + strings.Repeat("a", 64<<10) + `"}`, nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},
		{"admin_over_64KiB_chunked", "POST", "/admin/environments", adminKey, chunked(`{"name":"` + strings.Repeat("a", 64<<10) + `"}`), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},

		// Path ids.
		{"event_id_not_uuid", "GET", "/events/not-a-uuid", key, nil, nil, bad, ui, []string{"id"}},
		{"event_id_urn", "GET", "/events/urn:uuid:" + unknownID, key, nil, nil, bad, ui, []string{"id"}},
		{"delivery_id_number", "GET", "/deliveries/123", key, nil, nil, bad, ui, []string{"id"}},
		{"delivery_id_braces", "GET", "/deliveries/%7B" + unknownID + "%7D", key, nil, nil, bad, ui, []string{"id"}},
		{"delivery_id_no_dashes", "GET", "/deliveries/" + strings.ReplaceAll(unknownID, "-", ""), key, nil, nil, bad, ui, []string{"id"}},
		{"admin_delete_not_uuid", "DELETE", "/admin/environments/prod", adminKey, nil, nil, bad, ui, []string{"id"}},

		// Query parameters of GET /deliveries (deliveries.go).
		{"query_status", "GET", "/deliveries?status=done", key, nil, nil, bad, uq, []string{"status"}},
		{"query_type", "GET", "/deliveries?type=webhook", key, nil, nil, bad, uq, []string{"type"}},
		{"query_limit_zero", "GET", "/deliveries?limit=0", key, nil, nil, bad, uq, []string{"limit"}},
		{"query_limit_201", "GET", "/deliveries?limit=201", key, nil, nil, bad, uq, []string{"limit"}},
		{"query_limit_word", "GET", "/deliveries?limit=ten", key, nil, nil, bad, uq, []string{"limit"}},
		{"query_since", "GET", "/deliveries?since=yesterday", key, nil, nil, bad, uq, []string{"since"}},
		{"query_until_date_only", "GET", "/deliveries?until=2026-03-25", key, nil, nil, bad, uq, []string{"until"}},
		{"query_cursor", "GET", "/deliveries?cursor=abc", key, nil, nil, bad, uq, []string{"cursor"}},
		{"query_cursor_urn", "GET", "/deliveries?cursor=urn:uuid:" + unknownID, key, nil, nil, bad, uq, []string{"cursor"}},
		{"query_repeated", "GET", "/deliveries?type=auth&type=sync", key, nil, nil, bad, uq, []string{"type"}},

		// herald.Error from a service, through statusOf.
		{"duplicate_name_conflict", "POST", "/admin/environments", adminKey, `{"name":"prod"}`, nil, http.StatusConflict, "conflict", []string{"prod"}},
		{"invalid_name", "POST", "/admin/environments", adminKey, `{"name":"Prod"}`, nil, bad, ib, []string{"name"}},
		{"invalid_setting", "PATCH", "/environment/webhook", key, `{"timeout_ms":5}`, nil, bad, ib, []string{"timeout_ms"}},
		{"delete_unknown_environment", "DELETE", "/admin/environments/" + unknownID, adminKey, nil, nil, http.StatusNotFound, "not_found", nil},
		{"unknown_event", "GET", "/events/" + unknownID, key, nil, nil, http.StatusNotFound, "not_found", nil},
		{"unknown_delivery", "GET", "/deliveries/" + unknownID, key, nil, nil, http.StatusNotFound, "not_found", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, c.method, c.path, c.key, c.body, c.hdr...)
			checkError(t, r, c.status, c.code, c.mention...)
			if c.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}

	// None of the refused requests stored anything or changed a setting.
	r := f.do(t, "GET", "/deliveries", key, nil)
	r.want(t, http.StatusOK)
	if string(r.body) != `{"data":[],"next_cursor":null}` {
		t.Errorf("after refused requests: %s", r.body)
	}
	if v := f.getEnvironment(t, key); v.Settings["timeout_ms"] != float64(20000) || v.Settings["primary_url"] != nil {
		t.Errorf("after refused PATCHes: %v", v.Settings)
	}
	list, err := f.envs.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Errorf("%d environments after refused creations, want 1", len(list))
	}
}

// TestDeliveryQueryAccepted is the other side of the query validation:
// every documented filter is accepted, and the page is the data envelope.
func TestDeliveryQueryAccepted(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "prod", nil)
	for _, q := range []string{
		"", "status=pending", "status=skipped", "type=async_action", "type=forward", "limit=1", "limit=200",
		"since=2026-03-25T19:42:49.717Z", "until=2026-03-25T19:42:49%2B02:00", "connection_id=c1&provider_config_key=p",
		"cursor=0190a4c2-0000-7000-8000-00000000abcd",
	} {
		t.Run(q, func(t *testing.T) {
			r := f.do(t, "GET", "/deliveries?"+q, env.SecretKey, nil)
			r.want(t, http.StatusOK)
			if string(r.body) != `{"data":[],"next_cursor":null}` {
				t.Errorf("body %s", r.body)
			}
		})
	}
}

// TestAdminDeleteIDForm: DELETE /admin/environments/{id} takes only the
// 36-character form of a UUID, like every other path id (docs/errors.md).
// The other forms uuid.Parse accepts must be 400 invalid_uri_params, not
// passed on to the store.
func TestAdminDeleteIDForm(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "prod", nil)
	forms := []struct{ name, id string }{
		{"urn", "urn:uuid:" + env.ID},
		{"braces", "%7B" + env.ID + "%7D"},
		{"no_dashes", strings.ReplaceAll(env.ID, "-", "")},
	}
	for _, c := range forms {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, "DELETE", "/admin/environments/"+c.id, adminKey, nil)
			if r.status != http.StatusBadRequest {
				t.Errorf("DELETE /admin/environments/%s: %d %s, want 400 invalid_uri_params", c.id, r.status, r.body)
				return
			}
			checkError(t, r, http.StatusBadRequest, "invalid_uri_params", "id")
		})
	}
	if _, err := f.envs.Authenticate(t.Context(), env.SecretKey); err != nil {
		t.Fatalf("a refused DELETE removed the environment: %v", err)
	}
}

// TestClosedStore: once the database is closed a write answers 503
// unavailable with Retry-After: 1, and so does /readyz.
func TestClosedStore(t *testing.T) {
	// A frozen clock keeps the environment in the cache, so that the
	// request passes authentication and reaches the write.
	frozen := time.Now()
	f := newFixture(t, options{cache: cache.Options{Now: func() time.Time { return frozen }}})
	env := f.newEnv(t, "prod", nil)
	f.getEnvironment(t, env.SecretKey) // loads the environment into the cache
	f.do(t, "GET", "/readyz", "", nil).want(t, http.StatusOK)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, method, path, key string
		body                    any
		hdr                     []string
	}{
		{"post_event", "POST", "/events", env.SecretKey, validAuth, nil},
		{"post_event_idempotent", "POST", "/events", env.SecretKey, validAuth, []string{"Idempotency-Key", "k1"}},
		{"post_batch", "POST", "/events/batch", env.SecretKey, `{"events":[` + validAuth + `,` + validSync + `]}`, nil},
		{"patch_settings", "PATCH", "/environment/webhook", env.SecretKey, `{"on_sync_error":false}`, nil},
		{"create_environment", "POST", "/admin/environments", adminKey, `{"name":"staging"}`, nil},
		{"readyz", "GET", "/readyz", "", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, c.method, c.path, c.key, c.body, c.hdr...)
			checkError(t, r, http.StatusServiceUnavailable, "unavailable")
			if ra := r.header.Get("Retry-After"); ra != "1" {
				t.Errorf("Retry-After %q, want 1", ra)
			}
		})
	}
}

// TestClosedStoreReads documents docs/errors.md for reads: "The database
// cannot be reached" is 503 unavailable, and herald.ErrUnavailable's own
// documentation lists a closed database.
func TestClosedStoreReads(t *testing.T) {
	frozen := time.Now()
	f := newFixture(t, options{cache: cache.Options{Now: func() time.Time { return frozen }}})
	env := f.newEnv(t, "prod", nil)
	f.getEnvironment(t, env.SecretKey)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path string }{
		{"list_deliveries", "/deliveries"},
		{"get_event", "/events/0190a4c2-0000-7000-8000-00000000abcd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, "GET", c.path, env.SecretKey, nil)
			if r.status != http.StatusServiceUnavailable {
				t.Errorf("GET %s on a closed store: %d %s, want 503 unavailable", c.path, r.status, r.body)
				return
			}
			checkError(t, r, http.StatusServiceUnavailable, "unavailable")
		})
	}
}

// TestMount: a handler mounted on the root mux is served next to the API,
// routes nobody registered still get the JSON 404, and a mounted handler's
// panic is caught like the API's own.
func TestMount(t *testing.T) {
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "extra "+r.Method)
	})
	panics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("mounted handler failed") })
	f := newFixture(t, options{mount: map[string]http.Handler{"GET /extra": extra, "GET /panics": panics}})
	r := f.do(t, "GET", "/extra", "", nil)
	r.want(t, http.StatusOK)
	if string(r.body) != "extra GET" {
		t.Errorf("GET /extra: %q", r.body)
	}
	checkError(t, f.do(t, "GET", "/extra/more", "", nil), http.StatusNotFound, "not_found")
	checkError(t, f.do(t, "GET", "/unmounted", "", nil), http.StatusNotFound, "not_found")
	checkError(t, f.do(t, "POST", "/extra", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	// A panic in a mounted handler is the 500 envelope, without its text.
	e := checkError(t, f.do(t, "GET", "/panics", "", nil), http.StatusInternalServerError, "server_error")
	if e.Error.Message != "internal error" {
		t.Errorf("500 message %q, want \"internal error\"", e.Error.Message)
	}
	// The API's own routes are untouched.
	f.do(t, "GET", "/healthz", "", nil).want(t, http.StatusOK)
}

// TestServeHTTPRecorder drives the handler without a network: the envelope
// for unknown routes and the health routes' bodies.
func TestServeHTTPRecorder(t *testing.T) {
	f := newFixture(t, options{})
	srv := api.New(api.Config{Store: f.store, Environments: f.envs, Logger: discard})
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/healthz", http.StatusOK, `{"status":"ok"}`},
		{"GET", "/readyz", http.StatusOK, `{"status":"ready"}`},
		{"GET", "/nope", http.StatusNotFound, `{"error":{"code":"not_found","message":"no such route"}}`},
		{"PATCH", "/events", http.StatusMethodNotAllowed, `{"error":{"code":"method_not_allowed","message":"method not allowed on this route"}}`},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
			if w.Code != c.status || w.Body.String() != c.body {
				t.Errorf("%d %s, want %d %s", w.Code, w.Body, c.status, c.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}
