package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

const validAuth = `{"type":"auth","connectionId":"c1","providerConfigKey":"github","authMode":"OAUTH2","provider":"github","environment":"prod","operation":"creation","success":true}`

const validSync = `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INCREMENTAL","success":true,` +
	`"responseResults":{"added":1,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`

// badCase is one request that herald must refuse.
type badCase struct {
	name         string
	as           *client
	method, path string
	body         any
	header       []string
	status       int
	code         string
	mention      []string
}

func runBadCases(t *testing.T, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := c.as.try(c.method, c.path, c.body, c.header...)
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.path, err)
			}
			checkError(t, r, c.status, c.code, c.mention...)
		})
	}
}

// bigEvent is a forward event of more than n bytes.
func bigEvent(n int) string {
	return `{"type":"forward","connectionId":"c1","providerConfigKey":"p","payload":"` + strings.Repeat("x", n) + `"}`
}

// hideLength makes a body that is sent chunked, without Content-Length.
func hideLength(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

func TestBadInput(t *testing.T) { forEachStore(t, testBadInput) }

func testBadInput(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	rc := newReceiver(t, nil)
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	// strict refuses fields Nango's types do not declare.
	strictRC := newReceiver(t, nil)
	strict := newEnv(t, h)
	strict.patch(t, map[string]any{"primary_url": strictRC.URL("/strict"), "strict_validation": true})

	// owner has an event and a delivery that e must not see.
	ownerRC := newReceiver(t, nil)
	owner := newEnv(t, h)
	owner.patch(t, map[string]any{"primary_url": ownerRC.URL("/owner")})
	ownerEvent := owner.post(t, validAuth)
	ownerDelivery := ownerEvent.Deliveries[0].ID

	none := e.withKey("")
	wrong := e.withKey("00000000-0000-4000-8000-000000000000")
	admin := h.Admin()
	badAdmin := h.Admin().withKey("not-the-admin-key")
	unknownID := "0190a4c2-0000-7000-8000-00000000abcd"

	batch := func(events ...string) string { return `{"events":[` + strings.Join(events, ",") + `]}` }
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = validAuth
	}
	inv, auth401, notFound := http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound
	const ib, ui, uq, un, nf = "invalid_body", "invalid_uri_params", "invalid_query_params", "unauthorized", "not_found"

	cases := []badCase{
		// POST /events: syntax.
		{"event_malformed_json", e.client, "POST", "/events", `{"type":"auth",`, nil, inv, ib, []string{"JSON"}},
		{"event_trailing_garbage", e.client, "POST", "/events", validAuth + ` x`, nil, inv, ib, nil},
		{"event_empty_body", e.client, "POST", "/events", "", nil, inv, ib, nil},
		{"event_whitespace_body", e.client, "POST", "/events", "  \n ", nil, inv, ib, nil},
		{"event_array", e.client, "POST", "/events", `[1,2]`, nil, inv, ib, nil},
		{"event_null", e.client, "POST", "/events", `null`, nil, inv, ib, nil},
		{"event_string", e.client, "POST", "/events", `"auth"`, nil, inv, ib, nil},
		// Wrong types.
		{"event_success_string", e.client, "POST", "/events", strings.Replace(validAuth, `"success":true`, `"success":"yes"`, 1), nil, inv, ib, []string{"success"}},
		{"event_connection_id_number", e.client, "POST", "/events", strings.Replace(validAuth, `"connectionId":"c1"`, `"connectionId":42`, 1), nil, inv, ib, []string{"connectionId"}},
		{"event_connection_id_null", e.client, "POST", "/events", strings.Replace(validAuth, `"connectionId":"c1"`, `"connectionId":null`, 1), nil, inv, ib, []string{"connectionId"}},
		{"event_tags_value_number", e.client, "POST", "/events", strings.Replace(validAuth, `"success":true`, `"success":true,"tags":{"a":1}`, 1), nil, inv, ib, []string{"tags.a"}},
		{"event_results_string", e.client, "POST", "/events", strings.Replace(validSync, `"added":1`, `"added":"1"`, 1), nil, inv, ib, []string{"responseResults.added"}},
		{"event_payload_not_object", e.client, "POST", "/events", `{"type":"async_action","connectionId":"c","providerConfigKey":"p","payload":[]}`, nil, inv, ib, []string{"payload"}},
		{"event_type_number", e.client, "POST", "/events", `{"type":1}`, nil, inv, ib, []string{"type"}},
		// Unknown fields, where strict_validation refuses them.
		{"event_unknown_top_level", strict.client, "POST", "/events", strings.Replace(validAuth, `"success":true`, `"success":true,"extra":1`, 1), nil, inv, ib, []string{"extra"}},
		{"event_unknown_end_user_field", strict.client, "POST", "/events", strings.Replace(validAuth, `"success":true`,
			`"success":true,"endUser":{"endUserId":"u","endUserEmail":null,"tags":{},"nickname":"x"}`, 1), nil, inv, ib, []string{"endUser.nickname"}},
		{"event_unknown_payload_field", strict.client, "POST", "/events",
			`{"type":"async_action","connectionId":"c","providerConfigKey":"p","payload":{"id":"1","statusUrl":"/a","extra":true}}`, nil, inv, ib, []string{"payload.extra"}},
		{"event_unknown_results_field", strict.client, "POST", "/events", strings.Replace(validSync, `"added":1`, `"added":1,"skipped":2`, 1), nil, inv, ib, []string{"responseResults.skipped"}},
		{"event_unknown_auth_error_field", strict.client, "POST", "/events", strings.Replace(validAuth, `"success":true`,
			`"success":false,"error":{"type":"t","description":"d","code":5}`, 1), nil, inv, ib, []string{"error.code"}},
		// Missing or invalid values.
		{"event_missing_type", e.client, "POST", "/events", `{"connectionId":"c1"}`, nil, inv, ib, []string{"type"}},
		{"event_unknown_type", e.client, "POST", "/events", strings.Replace(validAuth, `"type":"auth"`, `"type":"webhook"`, 1), nil, inv, ib, []string{"type"}},
		{"event_missing_model", e.client, "POST", "/events", strings.Replace(validSync, `"model":"M",`, ``, 1), nil, inv, ib, []string{"model"}},
		{"event_missing_results", e.client, "POST", "/events", strings.Replace(validSync, `"responseResults":{"added":1,"updated":0,"deleted":0},`, ``, 1), nil, inv, ib, []string{"responseResults"}},
		{"event_missing_payload", e.client, "POST", "/events", `{"type":"forward","connectionId":"c","providerConfigKey":"p"}`, nil, inv, ib, []string{"payload"}},
		{"event_empty_connection_id", e.client, "POST", "/events", strings.Replace(validAuth, `"connectionId":"c1"`, `"connectionId":""`, 1), nil, inv, ib, []string{"connectionId"}},
		{"event_bad_sync_type", e.client, "POST", "/events", strings.Replace(validSync, `"INCREMENTAL"`, `"incremental"`, 1), nil, inv, ib, []string{"syncType"}},
		{"event_bad_timestamp", e.client, "POST", "/events", strings.Replace(validSync, `"2026-03-25T19:42:49.717Z"`, `"2026-03-25"`, 1), nil, inv, ib, []string{"modifiedAfter"}},
		{"event_negative_count", e.client, "POST", "/events", strings.Replace(validSync, `"added":1`, `"added":-1`, 1), nil, inv, ib, []string{"responseResults.added"}},
		{"event_fractional_count", e.client, "POST", "/events", strings.Replace(validSync, `"added":1`, `"added":1.5`, 1), nil, inv, ib, []string{"responseResults.added"}},
		{"event_failure_without_error", e.client, "POST", "/events", strings.Replace(validAuth, `"success":true`, `"success":false`, 1), nil, inv, ib, []string{"error"}},
		{"event_error_on_success", e.client, "POST", "/events", strings.Replace(validAuth, `"success":true`,
			`"success":true,"error":{"type":"t","description":"d"}`, 1), nil, inv, ib, []string{"error"}},
		{"event_idempotency_key_too_long", e.client, "POST", "/events", validAuth, []string{"Idempotency-Key", strings.Repeat("k", 256)}, inv, ib, []string{"Idempotency-Key"}},
		// Sizes.
		{"event_over_1MiB", e.client, "POST", "/events", bigEvent(1 << 20), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},
		{"event_over_1MiB_chunked", e.client, "POST", "/events", hideLength(bigEvent(1 << 20)), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},

		// POST /events/batch.
		{"batch_bad_event_3", e.client, "POST", "/events/batch",
			batch(validAuth, validSync, validAuth, strings.Replace(validSync, `"connectionId":"c1",`, ``, 1), validAuth), nil, inv, ib, []string{"events[3]", "connectionId"}},
		{"batch_event_1_not_object", e.client, "POST", "/events/batch", batch(validAuth, `5`), nil, inv, ib, []string{"events[1]"}},
		{"batch_unknown_nested_field", strict.client, "POST", "/events/batch",
			batch(validAuth, strings.Replace(validSync, `"added":1`, `"added":1,"x":0`, 1)), nil, inv, ib, []string{"events[1]", "responseResults.x"}},
		{"batch_malformed", e.client, "POST", "/events/batch", `{"events":[` + validAuth, nil, inv, ib, nil},
		{"batch_events_missing", e.client, "POST", "/events/batch", `{}`, nil, inv, ib, []string{"events"}},
		{"batch_events_not_array", e.client, "POST", "/events/batch", `{"events":{}}`, nil, inv, ib, []string{"events"}},
		{"batch_events_empty", e.client, "POST", "/events/batch", `{"events":[]}`, nil, inv, ib, []string{"events"}},
		{"batch_unknown_field", e.client, "POST", "/events/batch", `{"events":[` + validAuth + `],"extra":true}`, nil, inv, ib, []string{"extra"}},
		{"batch_array_body", e.client, "POST", "/events/batch", `[` + validAuth + `]`, nil, inv, ib, nil},
		{"batch_1001_events", e.client, "POST", "/events/batch", batch(tooMany...), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},
		{"batch_over_8MiB", e.client, "POST", "/events/batch", batch(bigEvent(5<<20), bigEvent(4<<20)), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},
		{"batch_over_8MiB_chunked", e.client, "POST", "/events/batch", hideLength(batch(bigEvent(5<<20), bigEvent(4<<20))), nil, http.StatusRequestEntityTooLarge, "payload_too_large", nil},

		// PATCH /environment/webhook.
		{"patch_ftp_url", e.client, "PATCH", "/environment/webhook", `{"primary_url":"ftp://example.com/hook"}`, nil, inv, ib, []string{"primary_url"}},
		{"patch_relative_url", e.client, "PATCH", "/environment/webhook", `{"primary_url":"/hook"}`, nil, inv, ib, []string{"primary_url"}},
		{"patch_not_a_url", e.client, "PATCH", "/environment/webhook", `{"primary_url":"not a url"}`, nil, inv, ib, []string{"primary_url"}},
		{"patch_no_host", e.client, "PATCH", "/environment/webhook", `{"primary_url":"http://"}`, nil, inv, ib, []string{"primary_url"}},
		{"patch_userinfo", e.client, "PATCH", "/environment/webhook", `{"primary_url":"http://user:pw@127.0.0.1:1/"}`, nil, inv, ib, []string{"primary_url"}},
		{"patch_bad_secondary", e.client, "PATCH", "/environment/webhook", `{"secondary_url":"javascript:alert(1)"}`, nil, inv, ib, []string{"secondary_url"}},
		{"patch_url_too_long", e.client, "PATCH", "/environment/webhook", `{"primary_url":"http://127.0.0.1:1/` + strings.Repeat("a", 2100) + `"}`, nil, inv, ib, []string{"primary_url"}},
		{"patch_url_number", e.client, "PATCH", "/environment/webhook", `{"primary_url":5}`, nil, inv, ib, []string{"primary_url"}},
		{"patch_unknown_field", e.client, "PATCH", "/environment/webhook", `{"webhook_url":"http://127.0.0.1:1/"}`, nil, inv, ib, []string{"webhook_url"}},
		{"patch_empty_object", e.client, "PATCH", "/environment/webhook", `{}`, nil, inv, ib, nil},
		{"patch_empty_body", e.client, "PATCH", "/environment/webhook", ``, nil, inv, ib, nil},
		{"patch_array", e.client, "PATCH", "/environment/webhook", `[]`, nil, inv, ib, nil},
		{"patch_malformed", e.client, "PATCH", "/environment/webhook", `{"on_auth_creation":`, nil, inv, ib, nil},
		{"patch_bool_string", e.client, "PATCH", "/environment/webhook", `{"on_auth_creation":"false"}`, nil, inv, ib, []string{"on_auth_creation"}},
		{"patch_timeout_low", e.client, "PATCH", "/environment/webhook", `{"timeout_ms":999}`, nil, inv, ib, []string{"timeout_ms"}},
		{"patch_timeout_high", e.client, "PATCH", "/environment/webhook", `{"timeout_ms":60001}`, nil, inv, ib, []string{"timeout_ms"}},
		{"patch_timeout_fraction", e.client, "PATCH", "/environment/webhook", `{"timeout_ms":1500.5}`, nil, inv, ib, []string{"timeout_ms"}},
		{"patch_retry_not_object", e.client, "PATCH", "/environment/webhook", `{"retry":3}`, nil, inv, ib, []string{"retry"}},
		{"patch_retry_unknown_field", e.client, "PATCH", "/environment/webhook", `{"retry":{"max_retries":1,"backoff":2}}`, nil, inv, ib, []string{"retry.backoff"}},
		{"patch_retry_too_many", e.client, "PATCH", "/environment/webhook", `{"retry":{"max_retries":31}}`, nil, inv, ib, []string{"retry.max_retries"}},
		{"patch_retry_negative", e.client, "PATCH", "/environment/webhook", `{"retry":{"max_retries":-1}}`, nil, inv, ib, []string{"retry.max_retries"}},
		{"patch_retry_multiplier", e.client, "PATCH", "/environment/webhook", `{"retry":{"multiplier":0.5}}`, nil, inv, ib, []string{"retry.multiplier"}},
		{"patch_retry_jitter", e.client, "PATCH", "/environment/webhook", `{"retry":{"jitter":2}}`, nil, inv, ib, []string{"retry.jitter"}},
		{"patch_retry_over_7_days", e.client, "PATCH", "/environment/webhook", `{"retry":{"max_retries":30,"initial_delay_ms":86400000,"multiplier":1}}`, nil, inv, ib, []string{"retry"}},
		{"patch_schedule_and_fields", e.client, "PATCH", "/environment/webhook", `{"retry":{"schedule_ms":[1],"max_retries":1}}`, nil, inv, ib, []string{"retry"}},
		{"patch_schedule_negative", e.client, "PATCH", "/environment/webhook", `{"retry":{"schedule_ms":[-1]}}`, nil, inv, ib, []string{"retry.schedule_ms"}},
		{"patch_schedule_31", e.client, "PATCH", "/environment/webhook", `{"retry":{"schedule_ms":[` + strings.TrimSuffix(strings.Repeat("1,", 31), ",") + `]}}`, nil, inv, ib, []string{"retry.schedule_ms"}},
		{"patch_schedule_over_7_days", e.client, "PATCH", "/environment/webhook", `{"retry":{"schedule_ms":[604800000,1]}}`, nil, inv, ib, []string{"retry.schedule_ms"}},
		// One good field next to a bad one: nothing may be applied.
		{"patch_partial", e.client, "PATCH", "/environment/webhook", `{"on_auth_creation":false,"timeout_ms":5}`, nil, inv, ib, []string{"timeout_ms"}},
		{"patch_partial_url", e.client, "PATCH", "/environment/webhook", `{"on_sync_error":false,"secondary_url":"ftp://x/"}`, nil, inv, ib, []string{"secondary_url"}},

		// Authentication.
		{"no_auth_get_environment", none, "GET", "/environment", nil, nil, auth401, un, nil},
		{"no_auth_post_event", none, "POST", "/events", validAuth, nil, auth401, un, nil},
		{"no_auth_batch", none, "POST", "/events/batch", batch(validAuth), nil, auth401, un, nil},
		{"no_auth_patch", none, "PATCH", "/environment/webhook", `{"on_auth_creation":false}`, nil, auth401, un, nil},
		{"no_auth_rotate", none, "POST", "/environment/webhook-signing-key/rotate", nil, nil, auth401, un, nil},
		{"no_auth_deliveries", none, "GET", "/deliveries", nil, nil, auth401, un, nil},
		{"wrong_key_post_event", wrong, "POST", "/events", validAuth, nil, auth401, un, nil},
		{"wrong_key_get_event", wrong, "GET", "/events/" + ownerEvent.ID, nil, nil, auth401, un, nil},
		{"basic_scheme", e.client, "GET", "/environment", nil, []string{"Authorization", "Basic " + e.key}, auth401, un, nil},
		{"empty_bearer", e.client, "GET", "/environment", nil, []string{"Authorization", "Bearer "}, auth401, un, nil},
		{"admin_key_on_env_route", admin, "POST", "/events", validAuth, nil, auth401, un, nil},
		{"env_key_on_admin_route", e.client, "POST", "/admin/environments", `{"name":"sneaky"}`, nil, auth401, un, nil},
		{"admin_no_key_create", none, "POST", "/admin/environments", `{"name":"nokey"}`, nil, auth401, un, nil},
		{"admin_no_key_list", none, "GET", "/admin/environments", nil, nil, auth401, un, nil},
		{"admin_wrong_key_create", badAdmin, "POST", "/admin/environments", `{"name":"wrongkey"}`, nil, auth401, un, nil},
		{"admin_wrong_key_list", badAdmin, "GET", "/admin/environments", nil, nil, auth401, un, nil},
		{"admin_wrong_key_delete", badAdmin, "DELETE", "/admin/environments/" + owner.ID, nil, nil, auth401, un, nil},

		// Tenancy: e cannot read owner's data.
		{"other_env_event", e.client, "GET", "/events/" + ownerEvent.ID, nil, nil, notFound, nf, nil},
		{"other_env_delivery", e.client, "GET", "/deliveries/" + ownerDelivery, nil, nil, notFound, nf, nil},
		{"unknown_event", e.client, "GET", "/events/" + unknownID, nil, nil, notFound, nf, nil},
		{"unknown_delivery", e.client, "GET", "/deliveries/" + unknownID, nil, nil, notFound, nf, nil},

		// Admin input.
		{"admin_duplicate_name", admin, "POST", "/admin/environments", map[string]string{"name": e.Name}, nil, http.StatusConflict, "conflict", nil},
		{"admin_bad_name", admin, "POST", "/admin/environments", `{"name":"Prod!"}`, nil, inv, ib, []string{"name"}},
		{"admin_long_name", admin, "POST", "/admin/environments", `{"name":"` + strings.Repeat("a", 65) + `"}`, nil, inv, ib, []string{"name"}},
		{"admin_name_missing", admin, "POST", "/admin/environments", `{}`, nil, inv, ib, []string{"name"}},
		{"admin_name_number", admin, "POST", "/admin/environments", `{"name":7}`, nil, inv, ib, []string{"name"}},
		{"admin_unknown_field", admin, "POST", "/admin/environments", `{"name":"x1","color":"red"}`, nil, inv, ib, []string{"color"}},
		{"admin_malformed", admin, "POST", "/admin/environments", `{"name":`, nil, inv, ib, nil},
		{"admin_delete_unknown", admin, "DELETE", "/admin/environments/" + unknownID, nil, nil, notFound, nf, nil},

		// Malformed ids in paths.
		{"event_id_not_uuid", e.client, "GET", "/events/not-a-uuid", nil, nil, inv, ui, []string{"id"}},
		{"delivery_id_number", e.client, "GET", "/deliveries/123", nil, nil, inv, ui, []string{"id"}},
		{"delivery_id_braces", e.client, "GET", "/deliveries/%7B" + unknownID + "%7D", nil, nil, inv, ui, []string{"id"}},
		{"event_id_urn", e.client, "GET", "/events/urn:uuid:" + unknownID, nil, nil, inv, ui, []string{"id"}},
		{"admin_delete_not_uuid", admin, "DELETE", "/admin/environments/prod", nil, nil, inv, ui, []string{"id"}},

		// Bad query parameters.
		{"query_status", e.client, "GET", "/deliveries?status=done", nil, nil, inv, uq, []string{"status"}},
		{"query_type", e.client, "GET", "/deliveries?type=webhook", nil, nil, inv, uq, []string{"type"}},
		{"query_limit_zero", e.client, "GET", "/deliveries?limit=0", nil, nil, inv, uq, []string{"limit"}},
		{"query_limit_201", e.client, "GET", "/deliveries?limit=201", nil, nil, inv, uq, []string{"limit"}},
		{"query_limit_word", e.client, "GET", "/deliveries?limit=ten", nil, nil, inv, uq, []string{"limit"}},
		{"query_limit_negative", e.client, "GET", "/deliveries?limit=-5", nil, nil, inv, uq, []string{"limit"}},
		{"query_since", e.client, "GET", "/deliveries?since=yesterday", nil, nil, inv, uq, []string{"since"}},
		{"query_until", e.client, "GET", "/deliveries?until=2026-13-40T00:00:00Z", nil, nil, inv, uq, []string{"until"}},
		{"query_cursor", e.client, "GET", "/deliveries?cursor=abc", nil, nil, inv, uq, []string{"cursor"}},
		{"query_status_twice", e.client, "GET", "/deliveries?status=failed&status=succeeded", nil, nil, inv, uq, []string{"status"}},

		// Routing.
		{"unknown_route", e.client, "GET", "/nope", nil, nil, notFound, nf, nil},
		{"method_not_allowed", e.client, "DELETE", "/events", nil, nil, http.StatusMethodNotAllowed, "", nil},
	}
	runBadCases(t, cases)

	// Nothing of the above changed e's settings.
	r := e.do(t, "GET", "/environment", nil)
	r.want(t, http.StatusOK)
	var got struct {
		ID       string         `json:"id"`
		Settings map[string]any `json:"webhook_settings"`
		Key      string         `json:"webhook_signing_key"`
	}
	r.decode(t, &got)
	want := map[string]any{
		"primary_url": rc.URL("/hook"), "secondary_url": nil, "on_auth_creation": true, "on_sync_error": true,
		"timeout_ms": float64(20000), "standard_webhooks": false,
	}
	for k, v := range want {
		if got.Settings[k] != v {
			t.Errorf("after refused PATCHes, webhook_settings.%s = %v, want %v (partial write?)", k, got.Settings[k], v)
		}
	}
	if got.ID != e.ID || got.Key != e.SigningKey {
		t.Errorf("GET /environment: id %s key %s, want %s %s", got.ID, got.Key, e.ID, e.SigningKey)
	}
	if r := admin.do(t, "GET", "/admin/environments", nil); r.Status == http.StatusOK {
		var list struct {
			Data []struct {
				Name string `json:"name"`
			} `json:"data"`
		}
		r.decode(t, &list)
		for _, en := range list.Data {
			for _, bad := range []string{"sneaky", "nokey", "wrongkey", "x1", "Prod!"} {
				if en.Name == bad {
					t.Errorf("a refused request created environment %q", bad)
				}
			}
		}
	} else {
		t.Errorf("%s", r)
	}
	if r := h.Anon().do(t, "GET", "/healthz", nil); r.Status != http.StatusOK {
		t.Errorf("after the bad requests: %s", r)
	}

	// e stored nothing: no delivery, no webhook. (Every accepted event
	// would have made a delivery: e has a URL and the default gates.)
	if ds, _ := e.listDeliveries(t, "limit=200"); len(ds) != 0 {
		t.Errorf("after only bad requests, GET /deliveries lists %d deliveries: %+v", len(ds), ds)
	}
	// A marker event goes through the same lane: once it has arrived,
	// anything stored before it would have been sent too.
	marker := e.post(t, validAuth)
	rc.waitDeliveryRequests(t, marker.Deliveries[0].ID, 1)
	if n := rc.Count(); n != 1 {
		t.Errorf("after only bad requests and one marker, the receiver got %d webhooks, want the marker alone", n)
	}
	if ds, _ := strict.listDeliveries(t, "limit=200"); len(ds) != 0 {
		t.Errorf("strict_validation stored %d deliveries for refused events: %+v", len(ds), ds)
	}
	// owner still has exactly its one event.
	if n := strictRC.Count(); n != 0 {
		t.Errorf("strict_validation's receiver got %d webhooks", n)
	}
	if ds, _ := owner.listDeliveries(t, ""); len(ds) != 1 || ds[0].ID != ownerDelivery {
		t.Errorf("owner's deliveries changed: %+v", ds)
	}

	// Without --allow-private-urls, loopback, private, link-local and
	// metadata URLs are refused at PATCH time. (None is ever dialled: these
	// are IP literals checked at validation.)
	t.Run("private_urls_refused", func(t *testing.T) {
		t.Parallel()
		strict := startHerald(t, heraldOpts{NoPrivateURLs: true})
		se := newEnv(t, strict)
		var private []badCase
		for _, u := range []string{
			"http://127.0.0.1:1/", "http://10.0.0.1/", "http://169.254.169.254/latest", "http://192.168.1.1/hook",
			"http://172.16.0.1/", "http://0.0.0.0/", "http://[::1]:1/", "http://[fd00::1]/", "http://[fe80::1]/",
			"http://[::ffff:127.0.0.1]/", "http://100.100.100.200/",
		} {
			for _, field := range []string{"primary_url", "secondary_url"} {
				private = append(private, badCase{field + "_" + u, se.client, "PATCH", "/environment/webhook",
					map[string]any{field: u}, nil, inv, ib, []string{field}})
			}
		}
		runBadCases(t, private)
		r := se.do(t, "GET", "/environment", nil)
		r.want(t, http.StatusOK)
		var env struct {
			Settings map[string]any `json:"webhook_settings"`
		}
		r.decode(t, &env)
		if env.Settings["primary_url"] != nil || env.Settings["secondary_url"] != nil {
			t.Errorf("refused URLs were stored: %v / %v", env.Settings["primary_url"], env.Settings["secondary_url"])
		}
	})

	// Without an admin key, admin routes answer 401.
	t.Run("no_admin_key_configured", func(t *testing.T) {
		t.Parallel()
		bare := startHerald(t, heraldOpts{NoAdminKey: true})
		runBadCases(t, []badCase{
			{"create", bare.Admin(), "POST", "/admin/environments", `{"name":"prod"}`, nil, auth401, un, nil},
			{"create_no_key", bare.Anon(), "POST", "/admin/environments", `{"name":"prod"}`, nil, auth401, un, nil},
			{"list", bare.Admin(), "GET", "/admin/environments", nil, nil, auth401, un, nil},
		})
	})
}

// A repeated Idempotency-Key returns the first answer and delivers nothing new.
func TestIdempotency(t *testing.T) { forEachStore(t, testIdempotency) }

func testIdempotency(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	rc := newReceiver(t, nil)
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
	wantIDs := map[string]bool{}
	postKey := func(path, body, key string) *response {
		t.Helper()
		r := e.do(t, "POST", path, body, "Idempotency-Key", key)
		r.want(t, http.StatusAccepted)
		return r
	}
	single := func(r *response) accepted {
		var a accepted
		r.decodeStrict(t, &a)
		return a
	}

	r1 := postKey("/events", asyncEvent, "key-1")
	a1 := single(r1)
	wantIDs[a1.Deliveries[0].ID] = true
	r2 := postKey("/events", asyncEvent, "key-1")
	if string(r2.Body) != string(r1.Body) {
		t.Errorf("repeat with the same Idempotency-Key:\n got %s\nwant %s", r2.Body, r1.Body)
	}
	// Same key, different body: 422 idempotency_key_reused, nothing new
	// (TestIdempotencyKeyReused). The same body with its keys in another
	// order is the same request: the first answer.
	checkError(t, e.do(t, "POST", "/events", validSync, "Idempotency-Key", "key-1"), http.StatusUnprocessableEntity,
		"idempotency_key_reused", "Idempotency-Key")
	reordered := `{"providerConfigKey":"github","payload":{"statusUrl":"/action/a1","id":"a1"},"connectionId":"c1","type":"async_action"}`
	if !jsonEqual([]byte(reordered), []byte(asyncEvent)) {
		t.Fatalf("test bug: %s is not %s reordered", reordered, asyncEvent)
	}
	if r := postKey("/events", reordered, "key-1"); string(r.Body) != string(r1.Body) {
		t.Errorf("same key, same body in another key order:\n got %s\nwant the first answer %s", r.Body, r1.Body)
	}
	a3 := single(postKey("/events", asyncEvent, "key-2"))
	if a3.ID == a1.ID || a3.Deliveries[0].ID == a1.Deliveries[0].ID {
		t.Errorf("a different key returned the first event %s", a1.ID)
	}
	wantIDs[a3.Deliveries[0].ID] = true
	a4 := single(postKey("/events", asyncEvent, ""))
	wantIDs[a4.Deliveries[0].ID] = true

	// Batches.
	b := `{"events":[` + validAuth + `,` + validSync + `,` + asyncEvent + `]}`
	b1 := postKey("/events/batch", b, "batch-1")
	b2 := postKey("/events/batch", b, "batch-1")
	if string(b1.Body) != string(b2.Body) {
		t.Errorf("batch repeat:\n got %s\nwant %s", b2.Body, b1.Body)
	}
	var br struct {
		Results []accepted `json:"results"`
	}
	b1.decodeStrict(t, &br)
	if len(br.Results) != 3 {
		t.Fatalf("batch: %d results, want 3", len(br.Results))
	}
	for _, a := range br.Results {
		wantIDs[a.Deliveries[0].ID] = true
	}
	var bNew struct {
		Results []accepted `json:"results"`
	}
	postKey("/events/batch", b, "batch-2").decodeStrict(t, &bNew)
	for i, a := range bNew.Results {
		if a.ID == br.Results[i].ID {
			t.Errorf("a different batch key returned event %s again", a.ID)
		}
		wantIDs[a.Deliveries[0].ID] = true
	}

	// Concurrent repeats of one key: one event, identical answers.
	const n = 8
	answers := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() {
			r, err := e.try("POST", "/events", asyncEvent, "Idempotency-Key", "key-concurrent")
			if err != nil {
				answers <- "error: " + err.Error()
				return
			}
			answers <- fmt.Sprintf("%d %s", r.Status, r.Body)
		}()
	}
	first := <-answers
	for i := 1; i < n; i++ {
		if a := <-answers; a != first {
			t.Errorf("concurrent repeats of one key answered differently:\n%s\n%s", first, a)
		}
	}
	if !strings.HasPrefix(first, "202 ") {
		t.Fatalf("concurrent post: %s", first)
	}
	var ac accepted
	json.Unmarshal([]byte(strings.TrimPrefix(first, "202 ")), &ac)
	wantIDs[ac.Deliveries[0].ID] = true

	// A request refused as invalid does not use up its key.
	checkError(t, e.do(t, "POST", "/events", `{"type":"auth"}`, "Idempotency-Key", "key-fixed"), http.StatusBadRequest, "invalid_body")
	fixed := single(postKey("/events", asyncEvent, "key-fixed"))
	if len(fixed.Deliveries) != 1 {
		t.Fatalf("after a refused request, the same key with a valid body: %+v", fixed)
	}
	wantIDs[fixed.Deliveries[0].ID] = true

	// The same key in another environment is another key.
	rc2 := newReceiver(t, nil)
	e2 := newEnv(t, h)
	e2.patch(t, map[string]any{"primary_url": rc2.URL("/hook")})
	r := e2.do(t, "POST", "/events", asyncEvent, "Idempotency-Key", "key-1")
	r.want(t, http.StatusAccepted)
	if other := single(r); other.ID == a1.ID {
		t.Errorf("another environment's key-1 returned this environment's event")
	}

	// Exactly the accepted deliveries exist and arrive, once each.
	// Succeeded is final: no delivery is sent again after it.
	waitAllSucceeded(t, e, wantIDs)
	for id := range wantIDs {
		if n := len(rc.For(id)); n != 1 {
			t.Errorf("delivery %s arrived %d times, want once", id, n)
		}
	}
	if got := rc.Count(); got != len(wantIDs) {
		t.Errorf("receiver got %d webhooks, want %d", got, len(wantIDs))
	}
}

// A key first used for a single event and then for a batch (or the other
// way round) must not answer the batch with a single event's answer: a
// client reading {"results":[…]} would find nothing. Either the answer has
// the shape of the request, or the reuse is refused with an error.
func TestIdempotencyKeyAcrossEndpoints(t *testing.T) {
	forEachStore(t, testIdempotencyKeyAcrossEndpoints)
}

func testIdempotencyKeyAcrossEndpoints(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	e := newEnv(t, h) // no URL: events are logged and skipped, nothing is sent
	checkShape := func(r *response, batch bool) {
		t.Helper()
		if r.Status >= 400 && r.Status < 500 {
			checkError(t, r, r.Status, "")
			return
		}
		if r.Status != http.StatusAccepted {
			t.Fatalf("%s", r)
		}
		var m map[string]json.RawMessage
		r.decode(t, &m)
		_, hasResults := m["results"]
		_, hasID := m["id"]
		if batch && (!hasResults || hasID) {
			t.Errorf("POST /events/batch replayed a single event's answer for a key first used on POST /events: %s", r.Body)
		}
		if !batch && (hasResults || !hasID) {
			t.Errorf("POST /events replayed a batch answer for a key first used on POST /events/batch: %s", r.Body)
		}
	}
	e.do(t, "POST", "/events", asyncEvent, "Idempotency-Key", "shared-1").want(t, http.StatusAccepted)
	checkShape(e.do(t, "POST", "/events/batch", `{"events":[`+asyncEvent+`]}`, "Idempotency-Key", "shared-1"), true)
	e.do(t, "POST", "/events/batch", `{"events":[`+asyncEvent+`]}`, "Idempotency-Key", "shared-2").want(t, http.StatusAccepted)
	checkShape(e.do(t, "POST", "/events", asyncEvent, "Idempotency-Key", "shared-2"), false)
}
