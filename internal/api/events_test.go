package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/nango"
)

var apiTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// eventView is the answer of GET /events/{id}, with the parts whose exact
// bytes matter kept raw.
type eventView struct {
	ID                string          `json:"id"`
	Type              string          `json:"type"`
	ConnectionID      string          `json:"connection_id"`
	ProviderConfigKey string          `json:"provider_config_key"`
	CreatedAt         string          `json:"created_at"`
	Status            string          `json:"status"`
	Skipped           *string         `json:"skipped"`
	UnknownFields     json.RawMessage `json:"unknown_fields"`
	Body              json.RawMessage `json:"body"`
	Deliveries        []struct {
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
	} `json:"deliveries"`
}

// TestPostEventAndGet: POST /events answers 202 with exactly
// {id,type,deliveries,skipped}; GET /events/{id} returns the canonical body
// byte for byte, which is also what the receiver gets, signed.
func TestPostEventAndGet(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/hook")})

	cases := []struct {
		name, body, canonical, typ, conn, pck, unknown string
	}{
		{"sync_reordered_with_whitespace",
			`{ "syncType":"INCREMENTAL", "type":"sync","success":true, "connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M",` +
				"\n" + `"responseResults":{"updated":0,"deleted":0,"added":1},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`,
			`{"connectionId":"c1","from":"nango","model":"M","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"p",` +
				`"responseResults":{"added":1,"deleted":0,"updated":0},"success":true,"syncName":"s","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
			"sync", "c1", "p", `[]`},
		{"forward_numbers_and_html_characters",
			`{"type":"forward","providerConfigKey":"p","connectionId":"c2","payload":{"z":1.50,"a":"<b>&é","n":1e2,"arr":[3,{"y":true,"b":null}]}}`,
			`{"connectionId":"c2","from":"nango","payload":{"a":"<b>&é","arr":[3,{"b":null,"y":true}],"n":100,"z":1.5},"providerConfigKey":"p","type":"forward"}`,
			"forward", "c2", "p", `[]`},
		{"auth_with_unknown_field",
			strings.Replace(validAuth, `"success":true`, `"success":true,"extra":{"k":1}`, 1),
			`{"authMode":"OAUTH2","connectionId":"c1","environment":"prod","extra":{"k":1},"from":"nango","operation":"creation",` +
				`"provider":"github","providerConfigKey":"github","success":true,"type":"auth"}`,
			"auth", "c1", "github", `["extra"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, "POST", "/events", env.SecretKey, c.body)
			r.want(t, http.StatusAccepted)
			var keys map[string]json.RawMessage
			if err := json.Unmarshal(r.body, &keys); err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range keys {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(got, []string{"deliveries", "id", "skipped", "type"}) {
				t.Errorf("202 body fields %v, want deliveries, id, skipped, type: %s", got, r.body)
			}
			var a accepted
			r.decode(t, &a)
			if u, err := uuid.Parse(a.ID); err != nil || u.Version() != 7 {
				t.Errorf("id %q is not a UUIDv7", a.ID)
			}
			if a.Type != c.typ || a.Skipped != nil || len(a.Deliveries) != 1 || a.Deliveries[0].URL != rc.URL("/hook") {
				t.Fatalf("202 body %s", r.body)
			}

			r = f.do(t, "GET", "/events/"+a.ID, env.SecretKey, nil)
			r.want(t, http.StatusOK)
			var ev eventView
			r.decode(t, &ev)
			if string(ev.Body) != c.canonical {
				t.Errorf("body\n got %s\nwant %s", ev.Body, c.canonical)
			}
			if string(ev.UnknownFields) != c.unknown {
				t.Errorf("unknown_fields %s, want %s", ev.UnknownFields, c.unknown)
			}
			if ev.ID != a.ID || ev.Type != c.typ || ev.ConnectionID != c.conn || ev.ProviderConfigKey != c.pck || ev.Skipped != nil {
				t.Errorf("event %+v", ev)
			}
			if !apiTimestamp.MatchString(ev.CreatedAt) {
				t.Errorf("created_at %q is not RFC 3339 UTC with milliseconds", ev.CreatedAt)
			}
			if len(ev.Deliveries) != 1 || ev.Deliveries[0].ID != a.Deliveries[0].ID || ev.Deliveries[0].EventID != a.ID {
				t.Fatalf("deliveries %+v, want the one of the 202 answer", ev.Deliveries)
			}

			// The receiver gets exactly those bytes, signed with the
			// environment's key.
			var got0 *received
			waitFor(t, "the webhook of "+a.ID, func() bool {
				for _, q := range rc.Requests() {
					if q.Header.Get("X-Herald-Event-Id") == a.ID {
						got0 = &q
						return true
					}
				}
				return false
			})
			if !bytes.Equal(got0.Body, []byte(c.canonical)) {
				t.Errorf("receiver got\n%s\nwant\n%s", got0.Body, c.canonical)
			}
			if !nango.VerifyHMAC(env.SigningKey, got0.Body, got0.Header.Get(nango.HeaderHMAC)) {
				t.Errorf("%s does not verify", nango.HeaderHMAC)
			}
			// And the log shows the delivery succeeded.
			waitFor(t, "delivery succeeded", func() bool {
				r := f.do(t, "GET", "/deliveries/"+a.Deliveries[0].ID, env.SecretKey, nil)
				var d struct {
					Status string `json:"status"`
				}
				json.Unmarshal(r.body, &d)
				return d.Status == "succeeded"
			})
		})
	}
}

// TestSkippedEvent: an environment without a URL stores the event as
// skipped, with no delivery, and GET /events/{id} says why.
func TestSkippedEvent(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "prod", nil)
	r := f.do(t, "POST", "/events", env.SecretKey, validAuth)
	r.want(t, http.StatusAccepted)
	var a accepted
	r.decode(t, &a)
	if a.Skipped == nil || *a.Skipped != "no_webhook_url" || len(a.Deliveries) != 0 {
		t.Fatalf("202 body %s, want skipped no_webhook_url and no deliveries", r.body)
	}
	if !bytes.Contains(r.body, []byte(`"deliveries":[]`)) {
		t.Errorf("deliveries must be [] (not null): %s", r.body)
	}
	r = f.do(t, "GET", "/events/"+a.ID, env.SecretKey, nil)
	r.want(t, http.StatusOK)
	var ev eventView
	r.decode(t, &ev)
	if ev.Skipped == nil || *ev.Skipped != "no_webhook_url" || len(ev.Deliveries) != 0 || ev.Status != "skipped" {
		t.Errorf("GET /events/%s: %s", a.ID, r.body)
	}
}

// TestStrictValidation: with strict_validation on, a field Nango's types
// do not declare is 400 invalid_body naming it, and nothing is stored; the
// same body is accepted where strict_validation is off.
func TestStrictValidation(t *testing.T) {
	f := newFixture(t, options{})
	strict := f.newEnv(t, "strict", map[string]any{"strict_validation": true})
	loose := f.newEnv(t, "loose", nil)
	for _, c := range []struct {
		name, path, body, field string
	}{
		{"top_level", "/events", strings.Replace(validAuth, `"success":true`, `"success":true,"extra":1`, 1), "extra"},
		{"nested", "/events", strings.Replace(validSync, `"added":1`, `"added":1,"skipped":2`, 1), "responseResults.skipped"},
		{"in_batch", "/events/batch", `{"events":[` + validAuth + `,` + strings.Replace(validSync, `"added":1`, `"added":1,"x":0`, 1) + `]}`,
			"events[1].responseResults.x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkError(t, f.do(t, "POST", c.path, strict.SecretKey, c.body), http.StatusBadRequest, "invalid_body", c.field)
			f.do(t, "POST", c.path, loose.SecretKey, c.body).want(t, http.StatusAccepted)
		})
	}
	ds, err := f.store.ListDeliveries(t.Context(), strict.ID, herald.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Errorf("strict stored %d deliveries for refused events", len(ds))
	}
}

// TestIdempotencyReplay: a repeated Idempotency-Key answers the first
// answer byte for byte and stores nothing; the key is scoped to the route.
func TestIdempotencyReplay(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/hook")})
	post := func(path, body, key string) []byte {
		t.Helper()
		r := f.do(t, "POST", path, env.SecretKey, body, "Idempotency-Key", key)
		r.want(t, http.StatusAccepted)
		return r.body
	}
	first := post("/events", validAuth, "k1")
	if again := post("/events", validAuth, "k1"); !bytes.Equal(again, first) {
		t.Errorf("replay\n got %s\nwant %s", again, first)
	}
	if r := f.do(t, "POST", "/events", env.SecretKey, validSync, "Idempotency-Key", "k1"); r.status != http.StatusUnprocessableEntity ||
		!bytes.Contains(r.body, []byte(`"idempotency_key_reused"`)) {
		t.Errorf("same key, other body: %d %s, want 422 idempotency_key_reused", r.status, r.body)
	}
	batch := post("/events/batch", `{"events":[`+validAuth+`]}`, "k1")
	if !bytes.HasPrefix(batch, []byte(`{"results":[`)) {
		t.Errorf("the same key on /events/batch replayed the single event's answer: %s", batch)
	}
	if again := post("/events/batch", `{"events":[`+validAuth+`]}`, "k1"); !bytes.Equal(again, batch) {
		t.Errorf("batch replay\n got %s\nwant %s", again, batch)
	}
	fresh := post("/events", validAuth, "k2")
	if bytes.Equal(fresh, first) {
		t.Errorf("another key replayed the first answer")
	}

	// Three events were stored (k1 event, k1 batch, k2 event), each with one
	// delivery, and each was sent once.
	ds, err := f.store.ListDeliveries(t.Context(), env.ID, herald.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Errorf("%d deliveries stored, want 3", len(ds))
	}
	waitFor(t, "3 webhooks", func() bool { return len(rc.Requests()) >= 3 })
	var a accepted
	json.Unmarshal(first, &a)
	n := 0
	for _, q := range rc.Requests() {
		if q.Header.Get("X-Herald-Event-Id") == a.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the first event was sent %d times, want 1", n)
	}
}

// TestPatchWebhookSettings: a refused PATCH is 400 naming the field and
// applies none of its fields; an accepted one answers the whole settings
// and GET /environment shows them.
func TestPatchWebhookSettings(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/old")})
	before := f.getEnvironment(t, env.SecretKey)

	for _, c := range []struct {
		name, body, field string
	}{
		{"bad_timeout_next_to_good_bool", `{"on_auth_creation":false,"timeout_ms":5}`, "timeout_ms"},
		{"bad_secondary_next_to_good_primary", `{"primary_url":"` + rc.URL("/new") + `","secondary_url":"ftp://x/"}`, "secondary_url"},
		{"unknown_field", `{"webhook_url":"` + rc.URL("/new") + `"}`, "webhook_url"},
		{"bool_as_string", `{"on_sync_error":"false"}`, "on_sync_error"},
		{"retry_unknown_field", `{"retry":{"max_retries":1,"backoff":2}}`, "retry.backoff"},
		{"schedule_negative", `{"retry":{"schedule_ms":[-1]}}`, "retry.schedule_ms[0]"},
		{"empty_object", `{}`, ""},
		{"array", `[]`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mention []string
			if c.field != "" {
				mention = append(mention, c.field)
			}
			checkError(t, f.do(t, "PATCH", "/environment/webhook", env.SecretKey, c.body), http.StatusBadRequest, "invalid_body", mention...)
			after := f.getEnvironment(t, env.SecretKey)
			if !equalJSON(t, after.Settings, before.Settings) {
				t.Errorf("settings changed by a refused PATCH:\n got %v\nwant %v", after.Settings, before.Settings)
			}
		})
	}

	r := f.do(t, "PATCH", "/environment/webhook", env.SecretKey, `{"secondary_url":"`+rc.URL("/second")+`","on_sync_error":false,"retry":{"schedule_ms":[10,20]}}`)
	r.want(t, http.StatusOK)
	var answered map[string]any
	r.decode(t, &answered)
	after := f.getEnvironment(t, env.SecretKey)
	if !equalJSON(t, answered, after.Settings) {
		t.Errorf("PATCH answered %v, GET /environment shows %v", answered, after.Settings)
	}
	want := map[string]any{"primary_url": rc.URL("/old"), "secondary_url": rc.URL("/second"), "on_sync_error": false,
		"on_auth_creation": true, "timeout_ms": float64(20000)}
	for k, v := range want {
		if after.Settings[k] != v {
			t.Errorf("after PATCH, %s = %v, want %v", k, after.Settings[k], v)
		}
	}
	if !equalJSON(t, after.Settings["retry"], map[string]any{"schedule_ms": []any{float64(10), float64(20)}}) {
		t.Errorf("retry = %v", after.Settings["retry"])
	}
}

// TestEnvironmentLifecycle goes through the admin and environment routes:
// create (201 with UUIDv4 keys), list without keys, rotate, delete.
func TestEnvironmentLifecycle(t *testing.T) {
	f := newFixture(t, options{})
	r := f.do(t, "POST", "/admin/environments", adminKey, `{"name":"prod"}`)
	r.want(t, http.StatusCreated)
	var created struct {
		ID                string `json:"id"`
		Name              string `json:"name"`
		SecretKey         string `json:"secret_key"`
		WebhookSigningKey string `json:"webhook_signing_key"`
		CreatedAt         string `json:"created_at"`
	}
	r.decode(t, &created)
	for what, k := range map[string]string{"id": created.ID, "secret_key": created.SecretKey, "webhook_signing_key": created.WebhookSigningKey} {
		if u, err := uuid.Parse(k); err != nil || u.Version() != 4 || len(k) != 36 {
			t.Errorf("%s %q is not a UUIDv4", what, k)
		}
	}
	if created.Name != "prod" || !apiTimestamp.MatchString(created.CreatedAt) {
		t.Errorf("created %+v", created)
	}

	r = f.do(t, "GET", "/admin/environments", adminKey, nil)
	r.want(t, http.StatusOK)
	var list struct {
		Data []struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			CreatedAt string `json:"created_at"`
		} `json:"data"`
	}
	r.decode(t, &list) // refuses secret_key or webhook_signing_key
	if len(list.Data) != 1 || list.Data[0].ID != created.ID || list.Data[0].CreatedAt != created.CreatedAt {
		t.Errorf("list %s", r.body)
	}

	if v := f.getEnvironment(t, created.SecretKey); v.ID != created.ID || v.WebhookSigningKey != created.WebhookSigningKey {
		t.Errorf("GET /environment %+v", v)
	}
	r = f.do(t, "POST", "/environment/webhook-signing-key/rotate", created.SecretKey, nil)
	r.want(t, http.StatusOK)
	var rotated struct {
		Data struct {
			Key string `json:"webhook_signing_key"`
		} `json:"data"`
	}
	r.decode(t, &rotated)
	if rotated.Data.Key == created.WebhookSigningKey || uuid.Validate(rotated.Data.Key) != nil {
		t.Errorf("rotation returned %q", rotated.Data.Key)
	}
	if v := f.getEnvironment(t, created.SecretKey); v.WebhookSigningKey != rotated.Data.Key {
		t.Errorf("after rotation GET /environment shows %q, want %q", v.WebhookSigningKey, rotated.Data.Key)
	}

	r = f.do(t, "DELETE", "/admin/environments/"+created.ID, adminKey, nil)
	r.want(t, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Errorf("204 with a body: %q", r.body)
	}
	checkError(t, f.do(t, "GET", "/environment", created.SecretKey, nil), http.StatusUnauthorized, "unauthorized")
	checkError(t, f.do(t, "DELETE", "/admin/environments/"+created.ID, adminKey, nil), http.StatusNotFound, "not_found")
}

// equalJSON compares two values by their JSON encoding.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}
