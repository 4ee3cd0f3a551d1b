package nango

import (
	"slices"
	"testing"
)

// Bodies that Nango's own sender produces, or that its types
// (@nangohq/types 0.71) allow, must be accepted and delivered exactly as
// Nango's stringifyStable writes them. Each case is one field where an
// earlier herald was stricter than Nango.
func TestParseWebhookAcceptsWhatNangoSends(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string   // canonical bytes delivered
		unknown []string // UnknownFields
		gate    string   // Gate's reason with every toggle on ("" = send)
	}{
		{
			name: "sync failure with empty model (aborted sync, no models)",
			in:   `{"type":"sync","from":"nango","connectionId":"c1","providerConfigKey":"github","syncName":"issues","syncVariant":"base","model":"","syncType":"INCREMENTAL","success":false,"error":{"type":"script_error","description":"The sync was cancelled"},"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:00:01.000Z"}`,
			want: `{"connectionId":"c1","error":{"description":"The sync was cancelled","type":"script_error"},"failedAt":"2026-03-25T19:00:01.000Z","from":"nango","model":"","providerConfigKey":"github","startedAt":"2026-03-25T19:00:00.000Z","success":false,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
		},
		{
			name: "sync success with empty model",
			in:   `{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"","syncType":"INITIAL","success":true,"responseResults":{"added":0,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`,
			want: `{"connectionId":"c1","from":"nango","model":"","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"github","responseResults":{"added":0,"deleted":0,"updated":0},"success":true,"syncName":"issues","syncType":"INITIAL","syncVariant":"base","type":"sync"}`,
		},
		{
			name: "checkpoints null is left out, as Nango's sender does",
			in:   `{"type":"sync","from":"nango","connectionId":"c1","providerConfigKey":"github","syncName":"issues","syncVariant":"base","model":"Issue","syncType":"INCREMENTAL","checkpoints":null,"success":true,"responseResults":{"added":1,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z","queryTimeStamp":"2026-03-25T19:42:49.717Z"}`,
			want: `{"connectionId":"c1","from":"nango","model":"Issue","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"github","queryTimeStamp":"2026-03-25T19:42:49.717Z","responseResults":{"added":1,"deleted":0,"updated":0},"success":true,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
		},
		{
			name: "checkpoints with null sides",
			in:   `{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"INITIAL","checkpoints":{"from":null,"to":{"page":3,"done":true}},"success":false,"error":{"type":"script_error","description":""},"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:00:01.000Z"}`,
			want: `{"checkpoints":{"from":null,"to":{"done":true,"page":3}},"connectionId":"c1","error":{"description":"","type":"script_error"},"failedAt":"2026-03-25T19:00:01.000Z","from":"nango","model":"Issue","providerConfigKey":"github","startedAt":"2026-03-25T19:00:00.000Z","success":false,"syncName":"issues","syncType":"INITIAL","syncVariant":"base","type":"sync"}`,
		},
		{
			name: "queryTimeStamp null (legacy field, Date or null)",
			in:   `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"WEBHOOK","success":true,"responseResults":{"added":1,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z","queryTimeStamp":null}`,
			want: `{"connectionId":"c1","from":"nango","model":"M","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"p","queryTimeStamp":null,"responseResults":{"added":1,"deleted":0,"updated":0},"success":true,"syncName":"s","syncType":"WEBHOOK","syncVariant":"base","type":"sync"}`,
		},
		{
			name: "sync error with payload and additional_properties (SyncErrorPayload)",
			in:   `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"A,B","syncType":"INCREMENTAL","success":false,"error":{"type":"script_error","description":"boom","payload":{"status":500},"additional_properties":{"retry":false}},"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:00:01.000Z"}`,
			want: `{"connectionId":"c1","error":{"additional_properties":{"retry":false},"description":"boom","payload":{"status":500},"type":"script_error"},"failedAt":"2026-03-25T19:00:01.000Z","from":"nango","model":"A,B","providerConfigKey":"p","startedAt":"2026-03-25T19:00:00.000Z","success":false,"syncName":"s","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
		},
		{
			name: "auth operation unknown is accepted and not sent",
			in:   `{"type":"auth","from":"nango","connectionId":"c1","providerConfigKey":"google","authMode":"unknown","provider":"unknown","environment":"prod","operation":"unknown","success":true}`,
			want: `{"authMode":"unknown","connectionId":"c1","environment":"prod","from":"nango","operation":"unknown","provider":"unknown","providerConfigKey":"google","success":true,"type":"auth"}`,
			gate: ReasonUnknownOperation,
		},
		{
			name: "auth operation newer than herald is accepted and not sent",
			in:   `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"reconnect","success":true}`,
			want: `{"authMode":"OAUTH2","connectionId":"c1","environment":"prod","from":"nango","operation":"reconnect","provider":"google","providerConfigKey":"google","success":true,"type":"auth"}`,
			gate: ReasonUnknownOperation,
		},
		{
			name: "endUser without endUserEmail (optional in Nango's type)",
			in:   `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"creation","success":true,"endUser":{"endUserId":"u1","tags":{}}}`,
			want: `{"authMode":"OAUTH2","connectionId":"c1","endUser":{"endUserId":"u1","tags":{}},"environment":"prod","from":"nango","operation":"creation","provider":"google","providerConfigKey":"google","success":true,"type":"auth"}`,
		},
		{
			name: "endUser with endUserEmail null",
			in:   `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"creation","success":true,"endUser":{"endUserId":"u1","endUserEmail":null,"tags":{"plan":"pro"}}}`,
			want: `{"authMode":"OAUTH2","connectionId":"c1","endUser":{"endUserEmail":null,"endUserId":"u1","tags":{"plan":"pro"}},"environment":"prod","from":"nango","operation":"creation","provider":"google","providerConfigKey":"google","success":true,"type":"auth"}`,
		},
		{
			name: "auth error with empty type and a payload",
			in:   `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"refresh","success":false,"error":{"type":"","description":"","payload":["x"]}}`,
			want: `{"authMode":"OAUTH2","connectionId":"c1","environment":"prod","error":{"description":"","payload":["x"],"type":""},"from":"nango","operation":"refresh","provider":"google","providerConfigKey":"google","success":false,"type":"auth"}`,
		},
		{
			name: "forward without connectionId (optional in Nango's type)",
			in:   `{"type":"forward","from":"hubspot","providerConfigKey":"hubspot","payload":{"portalId":42}}`,
			want: `{"from":"hubspot","payload":{"portalId":42},"providerConfigKey":"hubspot","type":"forward"}`,
		},
		{
			name:    "unknown fields are kept, in canonical order, at every level",
			in:      `{"type":"sync","zeta":{"b":1,"a":2},"connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INITIAL","success":true,"responseResults":{"added":1,"updated":0,"deleted":0,"total":1},"modifiedAfter":"2026-03-25T19:42:49.717Z","checkpoints":{"from":null,"to":null,"mid":1},"syncJobId":7}`,
			want:    `{"checkpoints":{"from":null,"mid":1,"to":null},"connectionId":"c1","from":"nango","model":"M","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"p","responseResults":{"added":1,"deleted":0,"total":1,"updated":0},"success":true,"syncJobId":7,"syncName":"s","syncType":"INITIAL","syncVariant":"base","type":"sync","zeta":{"a":2,"b":1}}`,
			unknown: []string{"checkpoints.mid", "responseResults.total", "syncJobId", "zeta"},
		},
		{
			name:    "unknown fields in auth, endUser and error",
			in:      `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"refresh","success":false,"error":{"type":"t","description":"d","code":"E1"},"endUser":{"endUserId":"u1","endUserEmail":"a@b.co","displayName":"Ann","tags":{}},"connectionConfig":{}}`,
			want:    `{"authMode":"OAUTH2","connectionConfig":{},"connectionId":"c1","endUser":{"displayName":"Ann","endUserEmail":"a@b.co","endUserId":"u1","tags":{}},"environment":"prod","error":{"code":"E1","description":"d","type":"t"},"from":"nango","operation":"refresh","provider":"google","providerConfigKey":"google","success":false,"type":"auth"}`,
			unknown: []string{"connectionConfig", "endUser.displayName", "error.code"},
		},
		{
			name:    "unknown fields in async_action and its payload",
			in:      `{"type":"async_action","connectionId":"c1","providerConfigKey":"p","payload":{"id":"a1","statusUrl":"/action/a1","result":{}},"status":"done"}`,
			want:    `{"connectionId":"c1","from":"nango","payload":{"id":"a1","result":{},"statusUrl":"/action/a1"},"providerConfigKey":"p","status":"done","type":"async_action"}`,
			unknown: []string{"payload.result", "status"},
		},
		{
			name:    "unknown field in forward",
			in:      `{"type":"forward","from":"github","connectionId":"c1","providerConfigKey":"gh","payload":[],"headers":{"x-github-event":"push"}}`,
			want:    `{"connectionId":"c1","from":"github","headers":{"x-github-event":"push"},"payload":[],"providerConfigKey":"gh","type":"forward"}`,
			unknown: []string{"headers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWebhook([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			got, err := w.Canonical()
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonical =\n%s\nwant\n%s", got, tt.want)
			}
			if u := UnknownFields(w); !slices.Equal(u, tt.unknown) {
				t.Errorf("UnknownFields = %q, want %q", u, tt.unknown)
			}
			all := DefaultGateSettings()
			all.OnConnectionDeletion = true
			if send, reason := Gate(all, w); reason != tt.gate || send != (tt.gate == "") {
				t.Errorf("Gate = %v, %q; want reason %q", send, reason, tt.gate)
			}
			// The delivered bytes parse back to the same webhook.
			again, err := ParseWebhook(got)
			if err != nil {
				t.Fatalf("ParseWebhook(Canonical): %v", err)
			}
			if b, _ := again.Canonical(); string(b) != string(got) {
				t.Errorf("not stable: %s then %s", got, b)
			}
		})
	}
}
