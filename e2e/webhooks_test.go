package e2e

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/nango"
)

// checkWebhook asserts the webhook request (docs/webhooks.md): method, exact canonical body,
// headers, and both Nango signatures under key — each checked with the nango
// package and with an HMAC computed here independently.
func checkWebhook(t *testing.T, r received, key, wantBody, eventID, deliveryID string, attemptNo int) {
	t.Helper()
	if r.Method != http.MethodPost {
		t.Errorf("webhook method %s, want POST", r.Method)
	}
	if string(r.Body) != wantBody {
		t.Errorf("webhook body (delivery %s):\n got %s\nwant %s", deliveryID, r.Body, wantBody)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", r.Header.Get("Content-Type"))
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "herald/") || len(ua) == len("herald/") {
		t.Errorf("User-Agent %q, want herald/<version>", ua)
	}
	if got := r.Header.Get("X-Herald-Delivery-Id"); got != deliveryID {
		t.Errorf("X-Herald-Delivery-Id %q, want %q", got, deliveryID)
	}
	if got := r.Header.Get("X-Herald-Event-Id"); got != eventID {
		t.Errorf("X-Herald-Event-Id %q, want %q", got, eventID)
	}
	if got := r.Header.Get("X-Herald-Attempt"); got != fmt.Sprint(attemptNo) {
		t.Errorf("X-Herald-Attempt %q, want %d", got, attemptNo)
	}
	checkSignedWith(t, r, key)
}

// checkSignedWith asserts both Nango signature headers verify under key.
func checkSignedWith(t *testing.T, r received, key string) {
	t.Helper()
	hm, legacy := r.Header.Get("X-Nango-Hmac-Sha256"), r.Header.Get("X-Nango-Signature")
	if hm != hmacHex(key, r.Body) {
		t.Errorf("X-Nango-Hmac-Sha256 %q, want lowercase hex HMAC-SHA256 %q", hm, hmacHex(key, r.Body))
	}
	if !nango.VerifyHMAC(key, r.Body, hm) {
		t.Errorf("nango.VerifyHMAC rejects X-Nango-Hmac-Sha256 %q", hm)
	}
	if legacy != legacyHex(key, r.Body) {
		t.Errorf("X-Nango-Signature %q, want lowercase hex SHA-256(key‖body) %q", legacy, legacyHex(key, r.Body))
	}
	if !nango.VerifyLegacy(key, r.Body, legacy) {
		t.Errorf("nango.VerifyLegacy rejects X-Nango-Signature %q", legacy)
	}
}

// The four webhook types, written with their keys out of order (nested
// objects too), and the canonical bytes herald must send for each.
var allTypesCases = []struct {
	name, in, want string
}{
	{
		name: "auth_creation",
		in: `{"success":true,"endUser":{"tags":{"z":"1","a":"2"},"organizationId":"org-9","endUserEmail":"jo@example.com","endUserId":"u-42"},` +
			`"operation":"creation","type":"auth","providerConfigKey":"github-prod","connectionId":"conn-auth",` +
			`"tags":{"zeta":"last","alpha":"first"},"provider":"github","environment":"prod","authMode":"OAUTH2"}`,
		want: `{"authMode":"OAUTH2","connectionId":"conn-auth","endUser":{"endUserEmail":"jo@example.com","endUserId":"u-42","organizationId":"org-9","tags":{"a":"2","z":"1"}},` +
			`"environment":"prod","from":"nango","operation":"creation","provider":"github","providerConfigKey":"github-prod","success":true,` +
			`"tags":{"alpha":"first","zeta":"last"},"type":"auth"}`,
	},
	{
		name: "auth_refresh_failure",
		in: `{"type":"auth","operation":"refresh","success":false,"error":{"description":"token revoked","type":"refresh_token_external_error"},` +
			`"environment":"dev","provider":"google","authMode":"OAUTH2","providerConfigKey":"google","connectionId":"conn-refresh","endUser":{"tags":{},"endUserEmail":null,"endUserId":"u-1"}}`,
		want: `{"authMode":"OAUTH2","connectionId":"conn-refresh","endUser":{"endUserEmail":null,"endUserId":"u-1","tags":{}},"environment":"dev",` +
			`"error":{"description":"token revoked","type":"refresh_token_external_error"},"from":"nango","operation":"refresh","provider":"google",` +
			`"providerConfigKey":"google","success":false,"type":"auth"}`,
	},
	{
		name: "sync_success_default_variant",
		in: `{"syncType":"INCREMENTAL","type":"sync","responseResults":{"updated":5,"deleted":0,"added":2},"modifiedAfter":"2026-03-25T19:42:49.717Z",` +
			`"model":"Contact","success":true,"syncName":"contacts","providerConfigKey":"hubspot","connectionId":"conn-sync",` +
			`"checkpoints":{"to":{"page":2,"cursor":"b"},"from":{"page":1,"cursor":"a"}},"queryTimeStamp":"2026-03-25T19:42:49.717Z"}`,
		want: `{"checkpoints":{"from":{"cursor":"a","page":1},"to":{"cursor":"b","page":2}},"connectionId":"conn-sync","from":"nango","model":"Contact",` +
			`"modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"hubspot","queryTimeStamp":"2026-03-25T19:42:49.717Z",` +
			`"responseResults":{"added":2,"deleted":0,"updated":5},"success":true,"syncName":"contacts","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
	},
	{
		name: "sync_failure_escapes",
		in: `{"failedAt":"2026-03-25T19:42:49.717Z","startedAt":"2026-03-25T19:00:00.000Z","syncVariant":"v2","success":false,` +
			`"error":{"details":{"b":1,"a":[3,{"y":1,"x":2}]},"type":"script_error","description":"boom <&> \u00e9\u2028 \ud83d\ude00 \"q\" \/"},` +
			`"syncType":"INITIAL","model":"Issue","syncName":"issues","providerConfigKey":"github","connectionId":"conn-fail","type":"sync","from":"nango"}`,
		want: `{"connectionId":"conn-fail","error":{"description":"boom <&> é` + "\u2028" + ` 😀 \"q\" /","details":{"a":[3,{"x":2,"y":1}],"b":1},"type":"script_error"},` +
			`"failedAt":"2026-03-25T19:42:49.717Z","from":"nango","model":"Issue","providerConfigKey":"github","startedAt":"2026-03-25T19:00:00.000Z",` +
			`"success":false,"syncName":"issues","syncType":"INITIAL","syncVariant":"v2","type":"sync"}`,
	},
	{
		name: "async_action",
		in: `{"payload":{"statusUrl":"/action/0190a4c2-0000-7000-8000-000000000001","id":"0190a4c2-0000-7000-8000-000000000001"},` +
			`"providerConfigKey":"slack","type":"async_action","connectionId":"conn-async"}`,
		want: `{"connectionId":"conn-async","from":"nango","payload":{"id":"0190a4c2-0000-7000-8000-000000000001",` +
			`"statusUrl":"/action/0190a4c2-0000-7000-8000-000000000001"},"providerConfigKey":"slack","type":"async_action"}`,
	},
	{
		name: "forward_attributed",
		in: `{"type":"forward","payload":{"subscriptionType":"contact.creation","portalId":42,"objectId":1.0,"occurredAt":1700000000000,` +
			`"2":"two","10":"ten","nested":{"b":[{"d":1,"c":2}],"a":null}},"from":"hubspot","providerConfigKey":"hubspot","connectionId":"conn-fwd"}`,
		want: `{"connectionId":"conn-fwd","from":"hubspot","payload":{"2":"two","10":"ten","nested":{"a":null,"b":[{"c":2,"d":1}]},"objectId":1,` +
			`"occurredAt":1700000000000,"portalId":42,"subscriptionType":"contact.creation"},"providerConfigKey":"hubspot","type":"forward"}`,
	},
	{
		// JSON.parse semantics: the last duplicate key wins, __proto__ keys
		// are dropped, numbers are doubles written as JavaScript writes
		// them, a lone surrogate escape survives as an escape.
		name: "forward_javascript_edge_cases",
		in: `{"type":"forward","connectionId":"first","providerConfigKey":"custom","payload":{"__proto__":{"x":1},"big":12345678901234567890,` +
			`"tiny":1e-7,"small":0.000001,"min":5e-324,"lone":"\udead","b":1,"a":2,"neg":-1.50},"connectionId":"conn-dup"}`,
		want: `{"connectionId":"conn-dup","from":"nango","payload":{"a":2,"b":1,"big":12345678901234567000,"lone":"\udead","min":5e-324,"neg":-1.5,` +
			`"small":0.000001,"tiny":1e-7},"providerConfigKey":"custom","type":"forward"}`,
	},
	{
		name: "forward_default_from_numbers",
		in:   `{"providerConfigKey":"custom","payload":[1e2,0.5,-0,1e21,"x",{"z":true,"y":false}],"connectionId":"conn-fwd2","type":"forward"}`,
		want: `{"connectionId":"conn-fwd2","from":"nango","payload":[100,0.5,0,1e+21,"x",{"y":false,"z":true}],"providerConfigKey":"custom","type":"forward"}`,
	},
}

func TestEndToEndAllTypes(t *testing.T) { forEachStore(t, testEndToEndAllTypes) }

func testEndToEndAllTypes(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	primary := newReceiver(t, nil)
	secondary := newReceiver(t, nil)
	e := newEnv(t, h)
	primaryURL, secondaryURL := primary.URL("/nango/primary"), secondary.URL("/nango/secondary")
	e.patch(t, map[string]any{"primary_url": primaryURL, "secondary_url": secondaryURL})

	type tc struct{ name, in, want string }
	var cases []tc
	for _, c := range allTypesCases {
		cases = append(cases, tc(c))
	}
	// The vector bodies are already canonical: they must arrive unchanged,
	// signed with this environment's key. First check that the independent
	// signing code here agrees with the vectors.
	for _, v := range loadVectors(t, "signatures.json") {
		if got := hmacHex(v.Key, []byte(v.Body)); got != v.HMAC {
			t.Fatalf("vector %s: test HMAC %s, vector says %s", v.Name, got, v.HMAC)
		}
		if got := legacyHex(v.Key, []byte(v.Body)); got != v.Legacy {
			t.Fatalf("vector %s: test legacy hash %s, vector says %s", v.Name, got, v.Legacy)
		}
		if !nango.VerifyHMAC(v.Key, []byte(v.Body), v.HMAC) || !nango.VerifyLegacy(v.Key, []byte(v.Body), v.Legacy) {
			t.Errorf("vector %s: nango.Verify* rejects the vector's signatures", v.Name)
		}
		if !json.Valid([]byte(v.Body)) {
			continue // "payload": a unit vector, not a webhook body
		}
		cases = append(cases, tc{name: "vector_" + v.Name, in: v.Body, want: v.Body})
	}

	type sent struct {
		tc
		a accepted
	}
	var posted []sent
	for _, c := range cases {
		a := e.post(t, c.in)
		wantType := map[string]any{}
		json.Unmarshal([]byte(c.want), &wantType)
		if a.Type != wantType["type"] {
			t.Errorf("%s: 202 type %q, want %q", c.name, a.Type, wantType["type"])
		}
		if a.Skipped != nil {
			t.Fatalf("%s: skipped %q, want null", c.name, *a.Skipped)
		}
		if len(a.Deliveries) != 2 || a.Deliveries[0].URL != primaryURL || a.Deliveries[1].URL != secondaryURL {
			t.Fatalf("%s: deliveries %+v, want one to the primary then one to the secondary URL", c.name, a.Deliveries)
		}
		posted = append(posted, sent{c, a})
	}

	for _, p := range posted {
		for i, rc := range []*receiver{primary, secondary} {
			d := p.a.Deliveries[i]
			reqs := rc.waitDeliveryRequests(t, d.ID, 1)
			t.Run(fmt.Sprintf("%s/%s", p.name, []string{"primary", "secondary"}[i]), func(t *testing.T) {
				checkWebhook(t, reqs[0], e.SigningKey, p.want, p.a.ID, d.ID, 1)
				if want := []string{"/nango/primary", "/nango/secondary"}[i]; reqs[0].Path != want {
					t.Errorf("path %s, want %s", reqs[0].Path, want)
				}
				if got := reqs[0].Header.Get("webhook-signature"); got != "" {
					t.Errorf("webhook-signature %q sent with standard_webhooks off", got)
				}
				// The same bytes, signed the same way, parse as the webhook type.
				wh, err := nango.ParseWebhook(reqs[0].Body)
				if err != nil {
					t.Errorf("nango.ParseWebhook(received body): %v", err)
				} else if string(wh.WebhookType()) != p.a.Type {
					t.Errorf("received a %s webhook, want %s", wh.WebhookType(), p.a.Type)
				}
			})
		}
	}
	for _, p := range posted {
		for _, d := range p.a.Deliveries {
			got := e.waitDelivery(t, d.ID, "succeeded", "failed")
			if got.Status != "succeeded" || got.Attempts != 1 {
				t.Errorf("%s: %s, want succeeded after 1 attempt", p.name, got)
			}
			if !jsonEqual(got.Body, []byte(p.want)) {
				t.Errorf("%s: GET /deliveries/%s body %s, want %s", p.name, d.ID, got.Body, p.want)
			}
		}
		r := e.do(t, "GET", "/events/"+p.a.ID, nil)
		r.want(t, http.StatusOK)
		var ev struct {
			Body json.RawMessage `json:"body"`
		}
		r.decode(t, &ev)
		if !jsonEqual(ev.Body, []byte(p.want)) {
			t.Errorf("%s: GET /events/%s body %s, want %s", p.name, p.a.ID, ev.Body, p.want)
		}
	}
}

// Event bodies for the gate table.
func authEvent(op string, success bool) string {
	errPart := ""
	if !success {
		errPart = `,"error":{"type":"some_error","description":"went wrong"}`
	}
	return fmt.Sprintf(`{"type":"auth","connectionId":"c1","providerConfigKey":"github","authMode":"OAUTH2","provider":"github",`+
		`"environment":"prod","operation":%q,"success":%t%s}`, op, success, errPart)
}

func syncSuccess(added, updated, deleted int) string {
	return fmt.Sprintf(`{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue",`+
		`"syncType":"INCREMENTAL","success":true,"responseResults":{"added":%d,"updated":%d,"deleted":%d},`+
		`"modifiedAfter":"2026-03-25T19:42:49.717Z"}`, added, updated, deleted)
}

const syncFailure = `{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue",` +
	`"syncType":"INITIAL","success":false,"error":{"type":"script_error","description":"boom"},` +
	`"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:42:49.717Z"}`

const asyncEvent = `{"type":"async_action","connectionId":"c1","providerConfigKey":"github","payload":{"id":"a1","statusUrl":"/action/a1"}}`

const forwardEvent = `{"type":"forward","from":"github","connectionId":"c1","providerConfigKey":"github","payload":{"action":"opened"}}`

func TestGates(t *testing.T) { forEachStore(t, testGates) }

func testGates(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	allOff := map[string]any{
		"on_auth_creation": false, "on_auth_refresh_error": false, "on_sync_error": false,
		"on_sync_completion_always": false, "on_async_action_completion": false, "on_connection_deletion": false,
	}
	allOn := map[string]any{
		"on_auth_creation": true, "on_auth_refresh_error": true, "on_sync_error": true,
		"on_sync_completion_always": true, "on_async_action_completion": true, "on_connection_deletion": true,
	}
	with := func(base map[string]any, k string, v bool) map[string]any {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	cases := []struct {
		name     string
		settings map[string]any // nil: the defaults of a new environment
		noURL    bool
		event    string
		skipped  string // "": sent
	}{
		{"creation_success_on", with(allOff, "on_auth_creation", true), false, authEvent("creation", true), ""},
		{"creation_success_off", with(allOn, "on_auth_creation", false), false, authEvent("creation", true), nango.ReasonAuthCreationDisabled},
		{"creation_failure_on", with(allOff, "on_auth_creation", true), false, authEvent("creation", false), ""},
		{"creation_failure_off", with(allOn, "on_auth_creation", false), false, authEvent("creation", false), nango.ReasonAuthCreationDisabled},
		{"refresh_on", with(allOff, "on_auth_refresh_error", true), false, authEvent("refresh", false), ""},
		{"refresh_off", with(allOn, "on_auth_refresh_error", false), false, authEvent("refresh", false), nango.ReasonAuthRefreshErrorDisabled},
		{"deletion_on", with(allOff, "on_connection_deletion", true), false, authEvent("deletion", true), ""},
		{"deletion_off", with(allOn, "on_connection_deletion", false), false, authEvent("deletion", true), nango.ReasonConnectionDeletionDisabled},
		{"deletion_default_off", nil, false, authEvent("deletion", true), nango.ReasonConnectionDeletionDisabled},
		{"override_all_off", allOff, false, authEvent("override", true), ""},
		{"override_failure_all_off", allOff, false, authEvent("override", false), ""},
		{"sync_error_on", with(allOff, "on_sync_error", true), false, syncFailure, ""},
		{"sync_error_off", with(allOn, "on_sync_error", false), false, syncFailure, nango.ReasonSyncErrorDisabled},
		{"sync_empty_always_on", with(allOff, "on_sync_completion_always", true), false, syncSuccess(0, 0, 0), ""},
		{"sync_empty_always_off", with(allOn, "on_sync_completion_always", false), false, syncSuccess(0, 0, 0), nango.ReasonSyncCompletionAlwaysDisabled},
		{"sync_added_always_off", allOff, false, syncSuccess(1, 0, 0), ""},
		{"sync_updated_always_off", allOff, false, syncSuccess(0, 1, 0), ""},
		{"sync_deleted_always_off", allOff, false, syncSuccess(0, 0, 1), ""},
		{"async_on", with(allOff, "on_async_action_completion", true), false, asyncEvent, ""},
		{"async_off", with(allOn, "on_async_action_completion", false), false, asyncEvent, nango.ReasonAsyncActionCompletionDisabled},
		{"forward_all_off", allOff, false, forwardEvent, ""},
		{"defaults_creation", nil, false, authEvent("creation", true), ""},
		{"defaults_sync_empty", nil, false, syncSuccess(0, 0, 0), ""},
		{"no_url_creation", nil, true, authEvent("creation", true), "no_webhook_url"},
		{"no_url_sync", nil, true, syncSuccess(3, 0, 0), "no_webhook_url"},
		{"no_url_forward", allOn, true, forwardEvent, "no_webhook_url"},
	}
	type skippedCase struct {
		name string
		rc   *receiver
		e    *env
	}
	var mu sync.Mutex
	var skippedCases []skippedCase
	t.Run("table", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				rc := newReceiver(t, nil)
				e := newEnv(t, h)
				settings := map[string]any{}
				for k, v := range c.settings {
					settings[k] = v
				}
				if !c.noURL {
					settings["primary_url"] = rc.URL("/hook")
				}
				if len(settings) > 0 {
					e.patch(t, settings)
				}
				a := e.post(t, c.event)
				ev := e.do(t, "GET", "/events/"+a.ID, nil)
				ev.want(t, http.StatusOK)
				var logged struct {
					ID         string          `json:"id"`
					Type       string          `json:"type"`
					Skipped    *string         `json:"skipped"`
					Body       json.RawMessage `json:"body"`
					Deliveries []delivery      `json:"deliveries"`
				}
				ev.decode(t, &logged)
				if logged.ID != a.ID || len(logged.Body) == 0 {
					t.Errorf("GET /events/%s: %s", a.ID, ev.Body)
				}
				if c.skipped != "" {
					if a.Skipped == nil || *a.Skipped != c.skipped || len(a.Deliveries) != 0 {
						t.Fatalf("202 %+v (skipped %v), want deliveries [] and skipped %q", a, deref(a.Skipped), c.skipped)
					}
					if logged.Skipped == nil || *logged.Skipped != c.skipped || len(logged.Deliveries) != 0 {
						t.Errorf("GET /events/%s: %s, want skipped %q and no deliveries", a.ID, ev.Body, c.skipped)
					}
					mu.Lock()
					skippedCases = append(skippedCases, skippedCase{c.name, rc, e})
					mu.Unlock()
					return
				}
				if a.Skipped != nil || len(a.Deliveries) != 1 || a.Deliveries[0].URL != rc.URL("/hook") {
					t.Fatalf("202 %+v (skipped %v), want one delivery to %s", a, deref(a.Skipped), rc.URL("/hook"))
				}
				if logged.Skipped != nil || len(logged.Deliveries) != 1 || logged.Deliveries[0].ID != a.Deliveries[0].ID {
					t.Errorf("GET /events/%s: %s, want skipped null and delivery %s", a.ID, ev.Body, a.Deliveries[0].ID)
				}
				rc.waitDeliveryRequests(t, a.Deliveries[0].ID, 1)
				if d := e.waitDelivery(t, a.Deliveries[0].ID, "succeeded", "failed"); d.Status != "succeeded" {
					t.Errorf("%s, want succeeded", d)
				}
			})
		}
	})
	// By now every sent case has been delivered; the skipped ones must
	// have sent nothing and stored no delivery.
	for _, s := range skippedCases {
		if n := s.rc.Count(); n != 0 {
			t.Errorf("%s: skipped event, yet the receiver got %d requests", s.name, n)
		}
		if ds, _ := s.e.listDeliveries(t, ""); len(ds) != 0 {
			t.Errorf("%s: skipped event, yet GET /deliveries lists %d deliveries", s.name, len(ds))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}
