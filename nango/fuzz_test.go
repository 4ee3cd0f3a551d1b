package nango

import (
	"bytes"
	"testing"
)

func FuzzParseWebhook(f *testing.F) {
	for _, s := range []string{
		authCreation, authRefresh, syncSuccess, syncFailure, asyncAction, forward,
		`{"type":"sync","connectionId":"c","providerConfigKey":"p","syncName":"s","model":"M","syncType":"WEBHOOK","success":true,"responseResults":{"added":1e2,"updated":0,"deleted":-0},"modifiedAfter":"2024-02-29T23:59:59.999Z","queryTimeStamp":null,"checkpoints":{"from":null,"to":{"n":1.50}}}`,
		`{"type":"sync","success":false,"error":{"type":"t","description":"x","extra":{"b":[1,"\ud800"]}},"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:00:01.000Z","connectionId":"c","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INCREMENTAL"}`,
		`{"type":"auth","success":false,"error":{"type":"t","description":"","payload":null},"connectionId":"c","providerConfigKey":"p","authMode":"OAUTH2","provider":"x","environment":"dev","operation":"creation","endUser":{"endUserId":"u","endUserEmail":null,"tags":{"__proto__":"x","a":"b"}}}`,
		`{"type":"forward","payload":{"__proto__":{"a":1},"10":1,"9":2},"providerConfigKey":"p","connectionId":"c"}`,
		`{"type":"async_action","connectionId":"c","providerConfigKey":"p","payload":{"id":"1","statusUrl":"/a"},"type":"async_action"}`,
		`[]`, `null`, `{"type":"auth"}`, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := ParseWebhook(body)
		if err != nil {
			if w != nil {
				t.Fatalf("ParseWebhook returned both %v and %v", w, err)
			}
			return
		}
		c1, err := w.Canonical()
		if err != nil {
			t.Fatalf("Canonical of a parsed webhook failed: %v\nbody %q", err, body)
		}
		w2, err := ParseWebhook(c1)
		if err != nil {
			t.Fatalf("ParseWebhook(Canonical()) failed: %v\ncanonical %q", err, c1)
		}
		if w2.WebhookType() != w.WebhookType() {
			t.Fatalf("type changed: %s -> %s", w.WebhookType(), w2.WebhookType())
		}
		c2, err := w2.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("Canonical not stable:\n%q\n%q", c1, c2)
		}
		if s, _ := Gate(DefaultGateSettings(), w); s != func() bool { s2, _ := Gate(DefaultGateSettings(), w2); return s2 }() {
			t.Fatal("Gate differs after round trip")
		}
	})
}
