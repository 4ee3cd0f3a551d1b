package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/forward"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/registry"
	"github.com/heraldhq/herald/internal/resend"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/nango"
)

// The fuzz targets of the API's parsers of outside input: event bodies
// (POST /events, POST /events/batch), the query of GET /deliveries, the
// {id} of GET /events/{id} and GET /deliveries/{id}, the body of
// POST /admin/environments, and the Authorization and Idempotency-Key
// headers. Every input is served in-process by the API wired as
// internal/server wires it, on a real SQLite store in a temporary
// directory. For all of them: never a 5xx (a panic in a handler is a 500),
// a 4xx is always the error envelope with a code that fits its status, and
// a success has its documented shape.

// fuzzAPI is newFixture for a fuzz target: built once per fuzzing process
// (newFixture takes a *testing.T, which a testing.F cannot give) and
// served through ServeHTTP rather than a socket, so that each input is
// cheap.
type fuzzAPI struct {
	srv *api.Server
	// lax has default settings, strict has strict_validation and every
	// gate open; both have one URL (a loopback receiver answering 200).
	lax, strict *herald.Environment
	hookURL     string
	// ids holds a delivery id and an event id that exist in lax.
	deliveryID, eventID string
	store               herald.Store
	registry            *registry.Service
}

func newFuzzAPI(tb testing.TB) *fuzzAPI {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	store := cache.New(db, cache.Options{})
	egressOpts := egress.Options{AllowPrivate: true}
	envs := environments.New(environments.Config{Store: store,
		CheckURL: func(ctx context.Context, u string) error { return egress.CheckURL(ctx, u, egressOpts) }})
	client := egress.New(egressOpts)
	d := dispatch.New(dispatch.Config{Store: store, Client: client, Logger: discard})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(runCtx) }()
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	tb.Cleanup(func() {
		stop()
		<-done
		client.CloseIdleConnections()
		rc.Close()
	})
	sum := sha256.Sum256([]byte(adminKey))
	fa := &fuzzAPI{hookURL: rc.URL + "/hook", store: store}
	in := &intake.Service{Store: store, Dispatcher: d}
	rs := resend.New(resend.Config{Store: store, Dispatcher: d, Logger: discard})
	tb.Cleanup(rs.Close)
	fa.registry = registry.New(registry.Config{Store: store, KnownProvider: forward.Known})
	fa.srv = api.New(api.Config{Store: store, Intake: in, Environments: envs, Registry: fa.registry,
		Forward:        forward.New(forward.Config{Store: store, Intake: in}),
		Resend:         rs,
		AdminKeyHashes: [][]byte{sum[:]}, Logger: discard})

	newEnv := func(name string, patch map[string]any) *herald.Environment {
		env, err := envs.Create(tb.Context(), name)
		if err != nil {
			tb.Fatal(err)
		}
		if env.Settings, err = envs.UpdateSettings(tb.Context(), env, patch); err != nil {
			tb.Fatal(err)
		}
		return env
	}
	fa.lax = newEnv("lax", map[string]any{"primary_url": fa.hookURL})
	fa.strict = newEnv("strict", map[string]any{"primary_url": fa.hookURL, "strict_validation": true,
		"on_connection_deletion": true})

	// A few deliveries, so that listings have something to page through.
	for i, body := range append(slices.Clone(realisticEvents), validAuth, validSync) {
		// A key no fuzz input will hit: FuzzRequestHeaders expects its keys
		// to be fresh or its own.
		rec := fa.serve("POST", "/events", fa.lax.SecretKey, []byte(body), "Idempotency-Key", fmt.Sprint("seed-", uuid.NewString(), "-", i))
		if rec.Code != http.StatusAccepted {
			tb.Fatalf("seed event %d: %d %s", i, rec.Code, rec.Body)
		}
		var a accepted
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			tb.Fatal(err)
		}
		fa.eventID = a.ID
		if len(a.Deliveries) > 0 {
			fa.deliveryID = a.Deliveries[0].ID
		}
	}
	return fa
}

// serve runs one request through the API in-process. key "" sends no
// Authorization; hdr are name/value pairs set after it.
func (fa *fuzzAPI) serve(method, target, key string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://herald.test/", rd)
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	req.RequestURI = req.URL.RequestURI()
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	fa.srv.ServeHTTP(rec, req)
	return rec
}

// codesFor lists the error codes each 4xx may carry (docs/errors.md).
var codesFor = map[int][]string{
	http.StatusBadRequest:            {api.CodeInvalidBody, api.CodeInvalidURIParams, api.CodeInvalidQueryParams},
	http.StatusUnauthorized:          {api.CodeUnauthorized},
	http.StatusNotFound:              {api.CodeNotFound, api.CodeUnknownEnvironment, api.CodeUnknownProviderConfig},
	http.StatusMethodNotAllowed:      {api.CodeMethodNotAllowed},
	http.StatusConflict:              {api.CodeConflict},
	http.StatusRequestEntityTooLarge: {api.CodePayloadTooLarge},
	http.StatusTooManyRequests:       {api.CodeTooManyRequests},
}

// checkAnswer fails on a 5xx and checks that a 4xx is the error envelope
// with a code that fits its status; it returns the answer as helpers'
// response, and the envelope of a 4xx.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) (response, envelope) {
	t.Helper()
	r := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if r.status >= 500 {
		t.Fatalf("%s: %d %s; an input must never cause a 5xx", what, r.status, r.body)
	}
	var e envelope
	if r.status >= 400 {
		e = checkError(t, r, r.status, "")
		if !slices.Contains(codesFor[r.status], e.Error.Code) {
			t.Errorf("%s: status %d with code %q; want one of %v", what, r.status, e.Error.Code, codesFor[r.status])
		}
	}
	return r, e
}

// decodeExact decodes b into v, refusing unknown fields and trailing data.
func decodeExact(t *testing.T, what string, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %s: %v", what, b, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data after the JSON value: %s", what, b)
	}
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// checkResult checks one event's 202 answer against what the body should
// give in env: the gate's decision, env's URL, fresh ids.
func checkResult(t *testing.T, what string, raw json.RawMessage, env *herald.Environment, hook nango.Webhook, hookURL string) {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatalf("%s: %s: %v", what, raw, err)
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(got, []string{"deliveries", "id", "skipped", "type"}) {
		t.Fatalf("%s: fields %v, want exactly id, type, deliveries, skipped: %s", what, got, raw)
	}
	var a accepted
	decodeExact(t, what, raw, &a)
	if !isUUID(a.ID) {
		t.Errorf("%s: id %q is not a UUID", what, a.ID)
	}
	if a.Type != string(hook.WebhookType()) {
		t.Errorf("%s: type %q, want %q", what, a.Type, hook.WebhookType())
	}
	if a.Deliveries == nil {
		t.Errorf("%s: deliveries is null, want an array", what)
	}
	send, reason := nango.Gate(intake.GateSettings(env.Settings), hook)
	switch {
	case !send:
		if a.Skipped == nil || *a.Skipped != reason || len(a.Deliveries) != 0 {
			t.Errorf("%s: skipped %v with %d deliveries; the gate says %q", what, a.Skipped, len(a.Deliveries), reason)
		}
	case a.Skipped != nil || len(a.Deliveries) != 1:
		t.Errorf("%s: skipped %v with %d deliveries; want null and one delivery", what, a.Skipped, len(a.Deliveries))
	default:
		if d := a.Deliveries[0]; !isUUID(d.ID) || d.URL != hookURL {
			t.Errorf("%s: delivery %+v; want a UUID and url %s", what, d, hookURL)
		}
	}
}

// realisticEvents are bodies as Nango sends them (docs/events.md), the
// seeds of the body targets.
var realisticEvents = []string{
	`{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"INCREMENTAL","success":true,"responseResults":{"added":3,"updated":1,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`,
	`{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"INITIAL","success":false,"error":{"type":"script_error","description":"rate limited"},"startedAt":"2026-03-25T19:40:00.000Z","failedAt":"2026-03-25T19:42:49.717Z"}`,
	`{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","syncVariant":"v2","model":"","syncType":"WEBHOOK","success":true,"responseResults":{"added":0,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z","queryTimeStamp":null,"checkpoints":{"from":null,"to":{"cursor":"abc"}}}`,
	`{"type":"auth","connectionId":"conn-1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"refresh","success":false,"error":{"type":"refresh_token_external_error","description":"token revoked"},"endUser":{"endUserId":"u-42","endUserEmail":null,"tags":{}}}`,
	`{"type":"auth","connectionId":"c1","providerConfigKey":"github","authMode":"OAUTH2","provider":"github","environment":"prod","operation":"deletion","success":true}`,
	`{"type":"auth","connectionId":"c1","providerConfigKey":"github","authMode":"API_KEY","provider":"github","environment":"prod","operation":"unknown","success":true,"tags":{"team":"a"}}`,
	`{"type":"async_action","connectionId":"c1","providerConfigKey":"github","payload":{"id":"7d0b6f0e-2f6c-4b8a-9a51-3c2e1d0f9b84","statusUrl":"/action/7d0b6f0e-2f6c-4b8a-9a51-3c2e1d0f9b84"}}`,
	`{"type":"forward","from":"hubspot","providerConfigKey":"hubspot","connectionId":"c1","payload":[{"subscriptionType":"contact.creation","objectId":123,"portalId":62515}]}`,
	`{"type":"forward","providerConfigKey":"p","payload":null,"syncMetadata":{"k":1}}`,
}

// FuzzPostEvents: POST /events with any body, in an environment with or
// without strict_validation. The answer agrees with intake.Parse on the
// same bytes: 400 invalid_body when it refuses them, otherwise 202 with
// the gate's decision.
func FuzzPostEvents(f *testing.F) {
	fa := newFuzzAPI(f)
	for _, s := range realisticEvents {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	for _, s := range []string{``, ` `, `null`, `[]`, `{}`, `{"type":"sync"}`, `{"type":"nope"}`, `{`, "\xff", `"x"`,
		`{"type":"forward","providerConfigKey":"p","payload":1,"connectionId":"c\u0000"}`,
		`{"type":"forward","providerConfigKey":"\ud800","payload":1}`,
		`{"type":"forward","providerConfigKey":"p","payload":1}{"x":1}`,
		`{"type":"forward","type":"sync","providerConfigKey":"p","payload":1}`,
		`{"type":"forward","providerConfigKey":"p","payload":1e999}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, strict bool) {
		env := fa.lax
		if strict {
			env = fa.strict
		}
		rec := fa.serve("POST", "/events", env.SecretKey, body)
		r, _ := checkAnswer(t, "POST /events", rec)

		var hook nango.Webhook
		var perr error
		if len(strings.TrimSpace(string(body))) == 0 {
			perr = fmt.Errorf("empty body")
		} else if v, err := canonjson.Parse(body); err != nil {
			perr = err
		} else {
			hook, perr = intake.Parse(env, v)
		}
		switch {
		case len(body) > api.MaxEventBody:
			if r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("body of %d bytes: %d, want 413", len(body), r.status)
			}
		case perr != nil:
			if r.status != http.StatusBadRequest {
				t.Fatalf("intake refuses %q (%v) but POST /events answered %d %s", body, perr, r.status, r.body)
			}
		default:
			if r.status != http.StatusAccepted {
				t.Fatalf("intake accepts %q but POST /events answered %d %s", body, r.status, r.body)
			}
			checkResult(t, "POST /events", r.body, env, hook, fa.hookURL)
		}
	})
}

// FuzzPostEventsBatch: POST /events/batch with any body. A body that is an
// object with only an events array of 1–1000 events that intake accepts
// gets 202 with one result per event, in order; anything else 400 or 413.
func FuzzPostEventsBatch(f *testing.F) {
	fa := newFuzzAPI(f)
	f.Add([]byte(`{"events":[` + strings.Join(realisticEvents, ",") + `]}`))
	for _, s := range realisticEvents {
		f.Add([]byte(`{"events":[` + s + `]}`))
	}
	for _, s := range []string{``, `{}`, `{"events":[]}`, `{"events":{}}`, `{"events":null}`, `[]`,
		`{"events":[` + validSync + `],"extra":1}`, `{"events":[` + validSync + `,{"type":"sync"}]}`,
		`{"events":[1]}`, `{"events":[` + validAuth + `],"events":[]}`, `{"events":[` + validAuth + `]}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env := fa.lax
		rec := fa.serve("POST", "/events/batch", env.SecretKey, body)
		r, _ := checkAnswer(t, "POST /events/batch", rec)

		// The rules of docs/events.md, applied independently of the route.
		var hooks []nango.Webhook
		valid := false
		if v, err := canonjson.Parse(body); err == nil && len(strings.TrimSpace(string(body))) > 0 {
			if obj, ok := v.(map[string]any); ok && len(obj) == 1 {
				if list, ok := obj["events"].([]any); ok && len(list) >= 1 && len(list) <= api.MaxBatch {
					valid = true
					for _, e := range list {
						hook, err := intake.Parse(env, e)
						if err != nil {
							valid = false
							break
						}
						hooks = append(hooks, hook)
					}
				}
			}
		}
		if len(body) > api.MaxBatchBody {
			valid = false
		}
		if !valid {
			if r.status != http.StatusBadRequest && r.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("invalid batch %q answered %d %s; want 400 or 413", body, r.status, r.body)
			}
			return
		}
		if r.status != http.StatusAccepted {
			t.Fatalf("valid batch %q answered %d %s; want 202", body, r.status, r.body)
		}
		var out struct {
			Results []json.RawMessage `json:"results"`
		}
		decodeExact(t, "POST /events/batch", r.body, &out)
		if len(out.Results) != len(hooks) {
			t.Fatalf("%d results for %d events: %s", len(out.Results), len(hooks), r.body)
		}
		for i, res := range out.Results {
			checkResult(t, fmt.Sprintf("POST /events/batch results[%d]", i), res, env, hooks[i], fa.hookURL)
		}
	})
}

// deliveryPage is the answer of GET /deliveries.
type deliveryPage struct {
	Data []struct {
		ID             string  `json:"id"`
		EventID        string  `json:"event_id"`
		Type           string  `json:"type"`
		URL            string  `json:"url"`
		Status         string  `json:"status"`
		Attempts       int     `json:"attempts"`
		CreatedAt      string  `json:"created_at"`
		UpdatedAt      string  `json:"updated_at"`
		NextAttemptAt  *string `json:"next_attempt_at"`
		LastStatusCode *int    `json:"last_status_code"`
		LastError      *string `json:"last_error"`
	} `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// FuzzDeliveriesQuery: GET /deliveries with any query string. 200 is a
// page of at most limit deliveries that match the status and type
// filters; 400 is invalid_query_params naming a parameter of the query.
func FuzzDeliveriesQuery(f *testing.F) {
	fa := newFuzzAPI(f)
	for _, q := range []string{"", "limit=1", "limit=200", "limit=0", "limit=201", "limit=-1", "limit=1e2", "limit=+5", "limit=%35",
		"status=failed&type=sync&limit=20", "status=succeeded", "status=pending", "status=bogus", "type=forward", "type=Sync",
		"connection_id=c1&provider_config_key=github", "connection_id=%00", "provider_config_key=%FF",
		"since=2026-03-25T19:42:49.717Z&until=2030-01-01T00:00:00Z", "since=2026-13-01T00:00:00Z", "until=yesterday",
		"since=2026-03-25T19:42:49.717%2B02:00",
		"cursor=" + fa.deliveryID, "cursor=not-a-cursor", "cursor=" + strings.ToUpper(fa.deliveryID), "cursor={" + fa.deliveryID + "}",
		"limit=1&limit=2", "type=sync&type=auth", "unknown=1", "a=1&a=2", "%zz", "limit", "limit=", ";limit=1", "&&&=", "status=failed%00",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/deliveries", nil)
		req.URL.RawQuery = query
		req.RequestURI = req.URL.RequestURI()
		req.Header.Set("Authorization", "Bearer "+fa.lax.SecretKey)
		rec := httptest.NewRecorder()
		fa.srv.ServeHTTP(rec, req)
		r, e := checkAnswer(t, "GET /deliveries?"+query, rec)
		q, _ := url.ParseQuery(query) // what the route sees (r.URL.Query() drops malformed pairs the same way)
		switch r.status {
		case http.StatusOK:
		case http.StatusBadRequest:
			if e.Error.Code != api.CodeInvalidQueryParams {
				t.Fatalf("?%s: code %q, want invalid_query_params", query, e.Error.Code)
			}
			// The message starts with the parameter's name, as JSON carries
			// it (invalid UTF-8 becomes U+FFFD); an empty name cannot be named.
			named := q.Has("")
			for name := range q {
				named = named || strings.HasPrefix(e.Error.Message, asJSONString(name)+":")
			}
			if !named {
				t.Fatalf("?%s: message %q does not start with the name of a parameter of the query", query, e.Error.Message)
			}
			return
		default:
			t.Fatalf("?%s: %d %s; want 200 or 400", query, r.status, r.body)
		}
		var page deliveryPage
		decodeExact(t, "GET /deliveries?"+query, r.body, &page)
		if page.Data == nil {
			t.Fatalf("?%s: data is null: %s", query, r.body)
		}
		limit := api.DefaultPageSize
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > api.MaxPageSize {
				t.Fatalf("?%s: limit %q answered 200", query, v)
			}
			limit = n
		}
		if len(page.Data) > limit {
			t.Fatalf("?%s: %d deliveries on a page of %d", query, len(page.Data), limit)
		}
		if page.NextCursor != nil && (!isUUID(*page.NextCursor) || len(page.Data) != limit || *page.NextCursor != page.Data[len(page.Data)-1].ID) {
			t.Fatalf("?%s: next_cursor %q after %d deliveries (limit %d)", query, *page.NextCursor, len(page.Data), limit)
		}
		for _, d := range page.Data {
			if !isUUID(d.ID) || !isUUID(d.EventID) || !apiTimestamp.MatchString(d.CreatedAt) || !apiTimestamp.MatchString(d.UpdatedAt) {
				t.Fatalf("?%s: malformed delivery %+v", query, d)
			}
			if s := q.Get("status"); s != "" && d.Status != s {
				t.Fatalf("?%s: delivery with status %q", query, d.Status)
			}
			if ty := q.Get("type"); ty != "" && d.Type != ty {
				t.Fatalf("?%s: delivery of type %q", query, d.Type)
			}
		}
	})
}

// asJSONString is s as a JSON string carries it to a client.
func asJSONString(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// FuzzPathID: GET /events/{id} and GET /deliveries/{id} with any id: 200
// for the ids that exist, otherwise 400 invalid_uri_params or 404.
func FuzzPathID(f *testing.F) {
	fa := newFuzzAPI(f)
	for _, id := range []string{fa.eventID, fa.deliveryID, strings.ToUpper(fa.deliveryID), uuid.NewString(), "", "x",
		"00000000-0000-0000-0000-000000000000", "{" + fa.eventID + "}", "urn:uuid:" + fa.eventID, fa.eventID + "/x",
		"%2e%2e", "..", "a%00b", strings.ReplaceAll(fa.eventID, "-", "")} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, route := range []string{"/events/", "/deliveries/"} {
			req := httptest.NewRequest("GET", "/", nil)
			req.URL.Path = route + id
			req.URL.RawPath = ""
			req.RequestURI = req.URL.RequestURI()
			req.Header.Set("Authorization", "Bearer "+fa.lax.SecretKey)
			rec := httptest.NewRecorder()
			fa.srv.ServeHTTP(rec, req)
			r, _ := checkAnswer(t, "GET "+route+id, rec)
			switch r.status {
			case http.StatusOK:
				var v struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(r.body, &v); err != nil || v.ID != id {
					t.Fatalf("GET %s%q: 200 for id %q: %s", route, id, v.ID, r.body)
				}
			case http.StatusBadRequest, http.StatusNotFound:
			case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
				// The mux's redirect of a path that is not clean ("..",
				// "//"), which a real client never sends as is.
			default:
				t.Fatalf("GET %s%q: %d %s", route, id, r.status, r.body)
			}
		}
	})
}

// envName is the rule for environment names (docs/authentication.md).
var envName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// FuzzAdminCreateEnvironment: POST /admin/environments with any body:
// 201 with the documented fields for a name that matches the rule, 409
// for a name taken, or 400 invalid_body.
func FuzzAdminCreateEnvironment(f *testing.F) {
	fa := newFuzzAPI(f)
	for _, s := range []string{`{"name":"prod"}`, `{"name":""}`, `{"name":1}`, `{"name":null}`, `{}`, `[]`, `{"name":"a","x":1}`,
		`{"name":"\u0000"}`, `{"name":"\ud800"}`, `{"name":"` + strings.Repeat("n", 300) + `"}`, ``, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := fa.serve("POST", "/admin/environments", adminKey, body)
		r, e := checkAnswer(t, "POST /admin/environments", rec)
		switch r.status {
		case http.StatusCreated:
			var out struct {
				ID                string `json:"id"`
				Name              string `json:"name"`
				SecretKey         string `json:"secret_key"`
				WebhookSigningKey string `json:"webhook_signing_key"`
				CreatedAt         string `json:"created_at"`
			}
			decodeExact(t, "POST /admin/environments", r.body, &out)
			if !isUUID(out.ID) || out.SecretKey == "" || out.WebhookSigningKey == "" || !apiTimestamp.MatchString(out.CreatedAt) {
				t.Fatalf("incomplete 201: %s", r.body)
			}
			v, err := canonjson.Parse(body)
			if err != nil {
				t.Fatalf("201 for a body that is not JSON: %q", body)
			}
			if obj, _ := v.(map[string]any); obj == nil || obj["name"] != out.Name {
				t.Fatalf("201 with name %q for body %q", out.Name, body)
			}
			if !envName.MatchString(out.Name) {
				t.Fatalf("201 for name %q, which does not match %s", out.Name, envName)
			}
		case http.StatusConflict:
			// The name is taken (by an earlier input).
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if r.status == http.StatusBadRequest && e.Error.Code != api.CodeInvalidBody {
				t.Fatalf("400 with code %q, want invalid_body", e.Error.Code)
			}
		default:
			t.Fatalf("POST /admin/environments %q: %d %s", body, r.status, r.body)
		}
	})
}

// headerValue is what a real server would hand the API for a header
// value: it refuses control characters (other than tab) and trims spaces
// and tabs around the value.
func headerValue(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return "", false
		}
	}
	return strings.Trim(s, " \t"), true
}

// FuzzRequestHeaders: any Authorization on an environment route and an
// admin route, and any Idempotency-Key on both event routes.
//
// Authorization: 200 exactly when, by docs/authentication.md, it is
// "Bearer" (any case), a space, and a valid key with spaces around it;
// otherwise 401 unauthorized.
//
// Idempotency-Key: more than 255 characters is 400 invalid_body naming the
// header; otherwise 202 (or 400 naming the header for text a store cannot
// keep), and a repeat with the same key answers the same bytes.
func FuzzRequestHeaders(f *testing.F) {
	fa := newFuzzAPI(f)
	key := fa.lax.SecretKey
	for _, a := range []string{"Bearer " + key, "bearer " + key, "BEARER   " + key + "  ", "Bearer\t" + key, "Bearer" + key,
		"Basic " + key, "Bearer " + key + "x", "Bearer " + adminKey, "bEaReR " + adminKey + " ", "Bearer ", "", "Bearer",
		"Bearer " + strings.ToUpper(key), "Bearer  " + key[:len(key)-1], "Token " + key, "Bearer " + key + " " + key} {
		f.Add(a, "")
	}
	for _, k := range []string{"sync-42", "run-7781", strings.Repeat("k", 255), strings.Repeat("k", 256), "é", "k\xff", " spaced ",
		"\xed\xa0\x80", "日本語", "a,b", "\t"} {
		f.Add("Bearer "+key, k)
	}
	f.Fuzz(func(t *testing.T, authorization, idemKey string) {
		auth, ok := headerValue(authorization)
		if !ok {
			t.Skip("not a header value a server would accept")
		}
		// The documented rule.
		presented := ""
		if len(auth) > len("bearer ") && strings.EqualFold(auth[:len("bearer ")], "bearer ") {
			presented = strings.TrimSpace(auth[len("bearer "):])
		}

		rec := fa.serve("GET", "/environment", "", nil, "Authorization", auth)
		r, e := checkAnswer(t, "GET /environment", rec)
		wantEnv := map[string]*herald.Environment{fa.lax.SecretKey: fa.lax, fa.strict.SecretKey: fa.strict}[presented]
		switch {
		case wantEnv != nil:
			if r.status != http.StatusOK {
				t.Fatalf("Authorization %q (a valid key) answered %d %s", auth, r.status, r.body)
			}
			var v environmentView
			r.decode(t, &v)
			if v.ID != wantEnv.ID {
				t.Fatalf("Authorization %q authenticated environment %s, want %s", auth, v.ID, wantEnv.ID)
			}
		case r.status != http.StatusUnauthorized || e.Error.Code != api.CodeUnauthorized:
			t.Fatalf("Authorization %q answered %d %s; want 401 unauthorized", auth, r.status, r.body)
		}

		rec = fa.serve("GET", "/admin/environments", "", nil, "Authorization", auth)
		r, e = checkAnswer(t, "GET /admin/environments", rec)
		if presented == adminKey {
			if r.status != http.StatusOK {
				t.Fatalf("Authorization %q (the admin key) answered %d %s", auth, r.status, r.body)
			}
		} else if r.status != http.StatusUnauthorized || e.Error.Code != api.CodeUnauthorized {
			t.Fatalf("admin route with Authorization %q answered %d %s; want 401 unauthorized", auth, r.status, r.body)
		}

		k, ok := headerValue(idemKey)
		if !ok {
			return
		}
		for _, route := range []struct{ path, body string }{
			{"/events", validSync},
			{"/events/batch", `{"events":[` + validSync + `]}`},
		} {
			first := fa.serve("POST", route.path, fa.lax.SecretKey, []byte(route.body), "Idempotency-Key", k)
			r1, e1 := checkAnswer(t, "POST "+route.path, first)
			if len(k) > 255 {
				if r1.status != http.StatusBadRequest || e1.Error.Code != api.CodeInvalidBody || !strings.Contains(e1.Error.Message, "Idempotency-Key") {
					t.Fatalf("Idempotency-Key of %d bytes: %d %s; want 400 invalid_body naming the header", len(k), r1.status, r1.body)
				}
				continue
			}
			if r1.status == http.StatusBadRequest && strings.Contains(e1.Error.Message, "Idempotency-Key") {
				continue // text the stores refuse (invalid UTF-8)
			}
			if r1.status != http.StatusAccepted {
				t.Fatalf("POST %s with Idempotency-Key %q: %d %s; want 202", route.path, k, r1.status, r1.body)
			}
			second := fa.serve("POST", route.path, fa.lax.SecretKey, []byte(route.body), "Idempotency-Key", k)
			r2, _ := checkAnswer(t, "POST "+route.path, second)
			if r2.status != http.StatusAccepted {
				t.Fatalf("repeat of POST %s with Idempotency-Key %q: %d %s; want 202", route.path, k, r2.status, r2.body)
			}
			if same := bytes.Equal(r1.body, r2.body); same != (k != "") {
				t.Fatalf("POST %s twice with Idempotency-Key %q: answers equal=%v\n%s\n%s", route.path, k, same, r1.body, r2.body)
			}
			if route.path == "/events/batch" && !bytes.HasPrefix(r1.body, []byte(`{"results":`)) {
				t.Fatalf("POST /events/batch with Idempotency-Key %q answered another route's answer: %s", k, r1.body)
			}
		}
	})
}
