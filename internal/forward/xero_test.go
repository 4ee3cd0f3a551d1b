package forward

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

// testHMAC is HMAC-SHA256(key, parts…), computed here rather than with the
// package's own helpers.
func testHMAC(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// testRequest is a POST of body with the given header pairs, at now.
func testRequest(url string, body []byte, now time.Time, pairs ...string) *Request {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return &Request{Method: http.MethodPost, URL: url, Header: h, Body: body, Now: now}
}

// verifyOutcome checks a Verify result: want is "ok" (nil), "none"
// (ErrNoSignature) or "bad" (a *SignatureError).
func verifyOutcome(t *testing.T, err error, want string) {
	t.Helper()
	var se *SignatureError
	switch want {
	case "ok":
		if err != nil {
			t.Fatalf("Verify = %v, want nil", err)
		}
	case "none":
		if !errors.Is(err, ErrNoSignature) {
			t.Fatalf("Verify = %v, want ErrNoSignature", err)
		}
	case "bad":
		if !errors.As(err, &se) {
			t.Fatalf("Verify = %v, want a *SignatureError", err)
		}
	default:
		t.Fatalf("bad want %q", want)
	}
}

// parseJSON parses a test body as the core does.
func parseJSON(t *testing.T, body []byte) any {
	t.Helper()
	v, err := ParseBody(&Request{Header: http.Header{"Content-Type": {"application/json"}}, Body: body})
	if err != nil {
		t.Fatalf("ParseBody: %v", err)
	}
	return v
}

// checkProviderSample checks forwardtest's sample of name, built on its own
// from the provider's documentation, against the provider: it verifies
// (and, timestamped, is refused an hour later), parses to its Payload and
// routes to the connection it describes; its handshake, if any, gets the
// answer expected.
func checkProviderSample(t *testing.T, name string) {
	t.Helper()
	p, ok := Lookup(name)
	if !ok {
		t.Fatalf("provider %q not registered", name)
	}
	build, ok := forwardtest.Samples()[name]
	if !ok {
		t.Fatalf("no forwardtest sample for %q", name)
	}
	signedAt := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	base := "https://herald.example.com/webhook/env-1/" + name
	s := build(base, signedAt)
	url := base
	if s.Query != "" {
		url += "?" + s.Query
	}
	secretOf := func(c map[string]string) string {
		switch p.Secret {
		case ClientSecret:
			return c["client_secret"]
		case WebhookOrClientSecret:
			if c["webhook_secret"] != "" {
				return c["webhook_secret"]
			}
			return c["client_secret"]
		}
		return c["webhook_secret"]
	}
	r := &Request{Method: http.MethodPost, URL: url, Header: s.Header, Body: s.Body, Now: signedAt.Add(20 * time.Second)}
	if p.Verify != nil {
		verifyOutcome(t, p.Verify(r, secretOf(s.Credentials)), "ok")
		if s.Timestamped {
			late := *r
			late.Now = signedAt.Add(time.Hour)
			verifyOutcome(t, p.Verify(&late, secretOf(s.Credentials)), "bad")
		}
	}
	parse := p.Parse
	if parse == nil {
		parse = ParseBody
	}
	payload, err := parse(r)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, err := canonjson.Marshal(payload); err != nil || !bytes.Equal(got, s.Payload) {
		t.Fatalf("payload = %s (%v), want %s", got, err, s.Payload)
	}
	if p.Handshake != nil {
		if _, ok := p.Handshake(r, payload, secretOf(s.Credentials)); ok {
			t.Fatal("the sample is taken for a handshake")
		}
	}
	rt := p.Route(r, payload)
	if s.ConnectionConfig != nil {
		raw, err := json.Marshal(s.ConnectionConfig)
		if err != nil {
			t.Fatal(err)
		}
		indexed := herald.ConnectionKeys(&herald.Connection{ConnectionConfig: raw})
		if !slices.ContainsFunc(rt.Keys, func(k herald.ConnectionKey) bool { return slices.Contains(indexed, k) }) {
			t.Fatalf("route keys %v find none of the connection's %v", rt.Keys, indexed)
		}
	} else if !slices.Contains(rt.ConnectionIDs, "conn-1") {
		t.Fatalf("route ids %v, want conn-1", rt.ConnectionIDs)
	}

	hb, ok := forwardtest.Handshakes()[name]
	if !ok {
		return
	}
	h := hb(base, signedAt)
	hr := &Request{Method: http.MethodPost, URL: base, Header: h.Header, Body: h.Sample.Body, Now: signedAt.Add(time.Second)}
	if p.Verify != nil {
		verifyOutcome(t, p.Verify(hr, secretOf(h.Credentials)), "ok")
	}
	hp, err := parse(hr)
	if err != nil {
		t.Fatalf("Parse handshake: %v", err)
	}
	if got, err := canonjson.Marshal(hp); err != nil || !bytes.Equal(got, h.Payload) {
		t.Fatalf("handshake payload = %s (%v), want %s", got, err, h.Payload)
	}
	a, ok := p.Handshake(hr, hp, secretOf(h.Credentials))
	if !ok || a.Status != h.Status || a.ContentType != h.ContentType || (h.Answer != nil && !bytes.Equal(a.Body, h.Answer)) {
		t.Fatalf("handshake answer = %+v (%s), %v; want %d %q %s", a, a.Body, ok, h.Status, h.ContentType, h.Answer)
	}
}

// TestProvidersNeverPanic feeds odd headers and payloads to the providers
// of this file set.
func TestProvidersNeverPanic(t *testing.T) {
	bodies := [][]byte{nil, []byte(""), []byte("not json"), []byte("null"), []byte("[]"), []byte(`"s"`), []byte("42"),
		[]byte(`{"events":"x","payload":[],"id":5}`), []byte(`{"events":[null,1,"s",[],{"id":[]}]}`),
		[]byte(`{"issue":{"self":"::"},"user":{"self":42},"comment":"x","payload":{"plainToken":7},"event":"endpoint.url_validation"}`)}
	headers := []string{"", " ", ",", "=", "t=,v1=", "v0=", "sha256=", "v1,", "v1, v1,!!", "t=1,v1=zz", "sha512=00", "\x00\xff"}
	for _, name := range []string{"xero", "attio", "calendly", "jira", "zoom", "standard-webhooks", "unauthenticated"} {
		p, ok := Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		for _, b := range bodies {
			for _, hv := range headers {
				r := testRequest("http://[::1", b, time.Now(),
					"X-Xero-Signature", hv, "Attio-Signature", hv, "Calendly-Webhook-Signature", hv,
					"X-Hub-Signature", hv, "X-Zm-Signature", hv, "X-Zm-Request-Timestamp", hv,
					"Webhook-Id", hv, "Webhook-Timestamp", hv, "Webhook-Signature", hv)
				if p.Verify != nil {
					_ = p.Verify(r, "secret")
				}
				payload, _ := ParseBody(r)
				if p.Handshake != nil {
					p.Handshake(r, payload, "secret")
					p.Handshake(r, payload, "")
				}
				p.Route(r, payload)
			}
		}
	}
}

const xeroTestKey = "r2ZpQe8fYzS4mB9kVd1xWc7nTq3hLg5uJa0oKs6iPv4yXb8eNf2tHw9mRc1lDj7zUq5gAo3sEk6pBn0vYi4="

func xeroSigned(key string, body []byte) *Request {
	return testRequest("https://herald.example.com/webhook/env-1/xero", body, time.Now(),
		"X-Xero-Signature", base64.StdEncoding.EncodeToString(testHMAC([]byte(key), string(body))))
}

func TestXeroVerify(t *testing.T) {
	body := []byte(`{"events":[{"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777","resourceId":"717f2bfc-c6d4-41fd-b238-3f2f0c0cf777","eventDateUtc":"2026-01-21T01:15:39.902","eventType":"UPDATE","eventCategory":"INVOICE","tenantId":"c2cc9b6e-9458-4c7d-93cc-f02b81b0594f","tenantType":"ORGANISATION"}],"lastEventSequence":1,"firstEventSequence":1,"entropy":"YSXUZGWHUKXLAJIGKGRB"}`)
	good := xeroSigned(xeroTestKey, body)
	tampered := xeroSigned(xeroTestKey, body)
	tampered.Body = bytes.Replace(body, []byte("UPDATE"), []byte("CREATE"), 1)
	hexSig := testRequest("", body, time.Now(), "X-Xero-Signature", "7d2a"+string(bytes.Repeat([]byte("0"), 60)))
	for _, c := range []struct {
		name string
		r    *Request
		key  string
		want string
	}{
		{"correct", good, xeroTestKey, "ok"},
		{"tampered body", tampered, xeroTestKey, "bad"},
		{"wrong secret", good, "another-key", "bad"},
		{"missing header", testRequest("", body, time.Now()), xeroTestKey, "none"},
		{"not base64", testRequest("", body, time.Now(), "X-Xero-Signature", "%%%not base64"), xeroTestKey, "bad"},
		{"hex instead of base64", hexSig, xeroTestKey, "bad"},
	} {
		t.Run(c.name, func(t *testing.T) {
			verifyOutcome(t, providers["xero"].Verify(c.r, c.key), c.want)
		})
	}
}

func TestXeroRoute(t *testing.T) {
	event := func(tenant, kind string) string {
		return `{"resourceUrl":"https://api.xero.com/api.xro/2.0/Contacts/4f8a6d3e-2b1c-4e5f-9a7b-8c6d5e4f3a2b","resourceId":"4f8a6d3e-2b1c-4e5f-9a7b-8c6d5e4f3a2b","eventDateUtc":"2026-01-21T01:15:39.902","eventType":"` + kind + `","eventCategory":"CONTACT","tenantId":"` + tenant + `","tenantType":"ORGANISATION"}`
	}
	const a, b = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f", "0b5b8a55-1e2f-4c8c-a3c9-6f3d1b7e9a10"
	key := func(v string) herald.ConnectionKey {
		return herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: "tenant_id", Value: v}
	}
	for _, c := range []struct {
		name string
		body string
		want Route
	}{
		{"one event", `{"events":[` + event(a, "UPDATE") + `],"lastEventSequence":1,"firstEventSequence":1,"entropy":"X"}`,
			Route{Keys: []herald.ConnectionKey{key(a)}, EventType: "UPDATE"}},
		{"several tenants, deduplicated", `{"events":[` + event(a, "UPDATE") + `,` + event(b, "CREATE") + `,` + event(a, "CREATE") + `],"lastEventSequence":3,"firstEventSequence":1,"entropy":"X"}`,
			Route{Keys: []herald.ConnectionKey{key(a), key(b)}, EventType: "UPDATE,CREATE"}},
		{"no tenantId", `{"events":[{"eventType":"UPDATE"}]}`, Route{EventType: "UPDATE"}},
		{"no events", `{"entropy":"X"}`, Route{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := providers["xero"].Route(&Request{}, parseJSON(t, []byte(c.body)))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Route = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestXeroIntentToReceive(t *testing.T) {
	p := providers["xero"]
	body := []byte(`{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}`)

	good := xeroSigned(xeroTestKey, body)
	verifyOutcome(t, p.Verify(good, xeroTestKey), "ok")
	a, ok := p.Handshake(good, parseJSON(t, body), xeroTestKey)
	if !ok || a.Status != http.StatusOK || len(a.Body) != 0 || a.ContentType != "" {
		t.Fatalf("Handshake = %+v, %v; want an empty 200", a, ok)
	}

	// The wrongly signed ones must get a 401: Verify refuses them.
	verifyOutcome(t, p.Verify(xeroSigned("not-the-key", body), xeroTestKey), "bad")

	for _, notOne := range []string{
		`{"events":[{"tenantId":"c2cc9b6e-9458-4c7d-93cc-f02b81b0594f","eventType":"UPDATE"}],"entropy":"X"}`,
		`{"events":null,"entropy":"X"}`,
		`{"entropy":"X"}`,
		`[]`,
	} {
		if a, ok := p.Handshake(good, parseJSON(t, []byte(notOne)), xeroTestKey); ok {
			t.Errorf("Handshake(%s) = %+v, want none", notOne, a)
		}
	}
}

func TestXeroSample(t *testing.T) { checkProviderSample(t, "xero") }
