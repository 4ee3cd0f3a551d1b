package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// Bodies that Nango's own sender produces (packages/webhooks and the jobs
// that call it) or that its types (@nangohq/types 0.71) allow, where an
// earlier herald answered 400. Each must be accepted and delivered byte for
// byte as Nango's stringifyStable writes it; an auth operation that Nango
// sends nothing for is accepted and logged as skipped.
var nangoBodyCases = []struct {
	name, in, want string
	unknown        []string // the event's unknown_fields
	skipped        string
}{
	{
		name: "sync_failure_empty_model",
		in: `{"type":"sync","from":"nango","connectionId":"c1","providerConfigKey":"github","syncName":"issues","syncVariant":"base","model":"",` +
			`"syncType":"INCREMENTAL","success":false,"error":{"type":"script_error","description":"The sync was cancelled"},` +
			`"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:00:01.000Z"}`,
		want: `{"connectionId":"c1","error":{"description":"The sync was cancelled","type":"script_error"},"failedAt":"2026-03-25T19:00:01.000Z",` +
			`"from":"nango","model":"","providerConfigKey":"github","startedAt":"2026-03-25T19:00:00.000Z","success":false,"syncName":"issues",` +
			`"syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
	},
	{
		name: "sync_checkpoints_null",
		in: `{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"INCREMENTAL",` +
			`"checkpoints":null,"success":true,"responseResults":{"added":2,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`,
		want: `{"connectionId":"c1","from":"nango","model":"Issue","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"github",` +
			`"responseResults":{"added":2,"deleted":0,"updated":0},"success":true,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
	},
	{
		name: "sync_error_additional_properties",
		in: `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"A,B","syncType":"INITIAL","success":false,` +
			`"error":{"type":"script_error","description":"boom","payload":{"status":500},"additional_properties":{"retry":false}},` +
			`"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:00:01.000Z"}`,
		want: `{"connectionId":"c1","error":{"additional_properties":{"retry":false},"description":"boom","payload":{"status":500},"type":"script_error"},` +
			`"failedAt":"2026-03-25T19:00:01.000Z","from":"nango","model":"A,B","providerConfigKey":"p","startedAt":"2026-03-25T19:00:00.000Z",` +
			`"success":false,"syncName":"s","syncType":"INITIAL","syncVariant":"base","type":"sync"}`,
	},
	{
		name: "auth_end_user_without_email",
		in: `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod",` +
			`"operation":"creation","success":true,"endUser":{"endUserId":"u1","tags":{}}}`,
		want: `{"authMode":"OAUTH2","connectionId":"c1","endUser":{"endUserId":"u1","tags":{}},"environment":"prod","from":"nango",` +
			`"operation":"creation","provider":"google","providerConfigKey":"google","success":true,"type":"auth"}`,
	},
	{
		name: "forward_without_connection",
		in:   `{"type":"forward","from":"hubspot","providerConfigKey":"hubspot","payload":[{"portalId":42}]}`,
		want: `{"from":"hubspot","payload":[{"portalId":42}],"providerConfigKey":"hubspot","type":"forward"}`,
	},
	{
		name: "unknown_fields_kept",
		in: `{"type":"sync","syncJobId":7,"connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"WEBHOOK",` +
			`"success":true,"responseResults":{"added":1,"updated":0,"deleted":0,"total":1},"modifiedAfter":"2026-03-25T19:42:49.717Z",` +
			`"queryTimeStamp":null,"zeta":{"b":1,"a":2}}`,
		want: `{"connectionId":"c1","from":"nango","model":"M","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"p","queryTimeStamp":null,` +
			`"responseResults":{"added":1,"deleted":0,"total":1,"updated":0},"success":true,"syncJobId":7,"syncName":"s","syncType":"WEBHOOK",` +
			`"syncVariant":"base","type":"sync","zeta":{"a":2,"b":1}}`,
		unknown: []string{"responseResults.total", "syncJobId", "zeta"},
	},
	{
		name: "auth_operation_unknown",
		in: `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"unknown","provider":"unknown","environment":"prod",` +
			`"operation":"unknown","success":true}`,
		want: `{"authMode":"unknown","connectionId":"c1","environment":"prod","from":"nango","operation":"unknown","provider":"unknown",` +
			`"providerConfigKey":"google","success":true,"type":"auth"}`,
		skipped: "unknown_operation",
	},
}

func TestNangoBodiesAccepted(t *testing.T) { forEachStore(t, testNangoBodiesAccepted) }

func testNangoBodiesAccepted(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	rc := newReceiver(t, nil)
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/nango")})

	for _, c := range nangoBodyCases {
		t.Run(c.name, func(t *testing.T) {
			a := e.post(t, c.in)
			var ev struct {
				Skipped       *string         `json:"skipped"`
				UnknownFields []string        `json:"unknown_fields"`
				Body          json.RawMessage `json:"body"`
			}
			r := e.do(t, "GET", "/events/"+a.ID, nil)
			r.want(t, http.StatusOK)
			r.decode(t, &ev)
			if string(ev.Body) != c.want {
				t.Errorf("stored body\n got %s\nwant %s", ev.Body, c.want)
			}
			if !slices.Equal(ev.UnknownFields, c.unknown) && (len(ev.UnknownFields) > 0 || len(c.unknown) > 0) {
				t.Errorf("unknown_fields = %q, want %q", ev.UnknownFields, c.unknown)
			}
			if ev.UnknownFields == nil {
				t.Errorf("unknown_fields is null, want an array")
			}
			if c.skipped != "" {
				if a.Skipped == nil || *a.Skipped != c.skipped || len(a.Deliveries) != 0 {
					t.Errorf("answer skipped=%v deliveries=%v, want skipped %q and none", a.Skipped, a.Deliveries, c.skipped)
				}
				if ev.Skipped == nil || *ev.Skipped != c.skipped {
					t.Errorf("event skipped = %v, want %q", ev.Skipped, c.skipped)
				}
				return
			}
			if len(a.Deliveries) != 1 {
				t.Fatalf("deliveries %+v, want 1", a.Deliveries)
			}
			d := a.Deliveries[0]
			got := rc.waitDeliveryRequests(t, d.ID, 1)
			checkWebhook(t, got[0], e.SigningKey, c.want, a.ID, d.ID, 1)
		})
	}

	// strict_validation refuses the unknown fields that the default keeps.
	e.patch(t, map[string]any{"strict_validation": true})
	for _, c := range nangoBodyCases {
		r := e.do(t, "POST", "/events", c.in)
		if len(c.unknown) == 0 {
			r.want(t, http.StatusAccepted)
			continue
		}
		checkError(t, r, http.StatusBadRequest, "invalid_body", c.unknown[0])
	}
}
