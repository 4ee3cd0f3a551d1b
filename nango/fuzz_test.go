package nango

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

// FuzzDecode: Decode never panics, fails only with ErrInvalidBody, agrees
// with ParseWebhook wherever that accepts the body, and what it returns
// can be used without panicking.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		authCreation, authRefresh, syncSuccess, syncFailure, asyncAction, forward,
		`{"type":"sync","success":true}`, `{"type":"sync","success":false,"checkpoints":{"from":null,"to":[]},"queryTimeStamp":null,"responseResults":{"added":-1e400}}`,
		`{"type":"auth","success":false,"error":null,"endUser":{"endUserEmail":1,"tags":[]},"tags":{"a":1}}`,
		`{"type":"async_action","payload":[]}`, `{"type":"forward","payload":{"__proto__":1}}`,
		`{"type":"endpoint.disabled","from":"herald","connectionId":"c"}`, `{"type":""}`, `{"type":1}`,
		`[]`, `null`, `{}`, `{`, "\xff", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := Decode(body)
		if err != nil {
			if w != nil {
				t.Fatalf("Decode returned both %v and %v", w, err)
			}
			if !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("error %v does not match ErrInvalidBody", err)
			}
			if _, perr := ParseWebhook(body); perr == nil {
				t.Fatalf("ParseWebhook accepts a body Decode refuses: %v", err)
			}
			return
		}
		if w == nil {
			t.Fatal("Decode returned neither a webhook nor an error")
		}
		if strict, perr := ParseWebhook(body); perr == nil && !reflect.DeepEqual(strict, w) {
			t.Fatalf("Decode differs from ParseWebhook:\n%#v\n%#v", w, strict)
		}
		w.ConnectionRef()
		w.Canonical()
		UnknownFields(w)
		Gate(DefaultGateSettings(), w)
		switch w := w.(type) {
		case *UnknownWebhook:
			if !bytes.Equal(w.Raw, body) {
				t.Fatal("UnknownWebhook.Raw is not the body")
			}
		case *AuthWebhook:
			if !w.Success && w.Error == nil {
				t.Fatal("failed auth without Error")
			}
		case *SyncWebhook:
			if !w.Success && w.Error == nil || w.Success && w.ResponseResults == nil {
				t.Fatal("sync without Error or ResponseResults")
			}
		}
	})
}

// FuzzVerifySignature: whatever the headers, a Verifier never panics and
// accepts only the right signatures.
func FuzzVerifySignature(f *testing.F) {
	body := []byte(asyncAction)
	f.Add(body, SignHMAC("k", body), SignLegacy("k", body), "evt", "1767225600", SignStandard("k", "evt", 1767225600, body))
	f.Add(body, "", "", "evt", "-1", "v1,"+strings.Repeat("A", 44)+" v2,x")
	f.Add([]byte("{}"), "ZZ", " ", "", "9223372036854775807", "v1,,")
	f.Fuzz(func(t *testing.T, body []byte, mac, legacy, id, ts, sig string) {
		h := http.Header{}
		for name, value := range map[string]string{HeaderHMAC: mac, HeaderLegacySignature: legacy,
			HeaderStandardID: id, HeaderStandardTimestamp: ts, HeaderStandardSignature: sig} {
			h.Set(name, value)
		}
		v := Verifier{Key: "k", Now: func() time.Time { return time.Unix(1767225600, 0) }}
		checked, err := v.VerifySignature(h, body)
		if err != nil {
			if checked != 0 || HTTPStatus(err) != http.StatusUnauthorized {
				t.Fatalf("checked %s, status %d for %v", checked, HTTPStatus(err), err)
			}
			return
		}
		if checked&SchemeHMAC != 0 && !strings.EqualFold(strings.TrimSpace(h.Get(HeaderHMAC)), SignHMAC("k", body)) {
			t.Fatalf("accepted HMAC %q", mac)
		}
		if checked&SchemeLegacy != 0 && !strings.EqualFold(strings.TrimSpace(h.Get(HeaderLegacySignature)), SignLegacy("k", body)) {
			t.Fatalf("accepted legacy %q", legacy)
		}
		if checked&SchemeStandard != 0 {
			n, perr := strconv.ParseInt(strings.TrimSpace(h.Get(HeaderStandardTimestamp)), 10, 64)
			if perr != nil || !slices.Contains(strings.Fields(h.Get(HeaderStandardSignature)), SignStandard("k", h.Get(HeaderStandardID), n, body)) {
				t.Fatalf("accepted standard %q %q %q", id, ts, sig)
			}
		}
		if checked == 0 {
			t.Fatal("accepted with nothing checked")
		}
	})
}
