package forward

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

// The helpers below are shared by the tests of hubspot, slack, linear,
// github, stripe, shopify and intercom.

// sigWant is what a Verify case expects.
type sigWant int

const (
	sigValid sigWant = iota // nil
	sigNone                 // ErrNoSignature
	sigBad                  // a *SignatureError
)

// sigCase is one row of a provider's Verify table.
type sigCase struct {
	name   string
	req    *Request
	secret string
	want   sigWant
	// reason, when set, is the SignatureError.Reason expected.
	reason string
}

func checkSigCases(t *testing.T, provider string, cases []sigCase) {
	t.Helper()
	p, ok := Lookup(provider)
	if !ok {
		t.Fatalf("provider %q not registered", provider)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := p.Verify(c.req, c.secret)
			switch c.want {
			case sigValid:
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
			case sigNone:
				if !errors.Is(err, ErrNoSignature) {
					t.Fatalf("Verify = %v, want ErrNoSignature", err)
				}
			case sigBad:
				var se *SignatureError
				if !errors.As(err, &se) {
					t.Fatalf("Verify = %v, want a *SignatureError", err)
				}
				if c.reason != "" && se.Reason != c.reason {
					t.Fatalf("Verify reason = %q, want %q", se.Reason, c.reason)
				}
			}
		})
	}
}

// Reasons of the usual SignatureErrors.
var (
	reasonMismatch = Mismatch().(*SignatureError).Reason
	reasonExpired  = Expired().(*SignatureError).Reason
)

// testURL is the address herald is called at in these tests.
const testURL = "https://herald.example.com/webhook/env_1/my-integration"

// sampleOf builds the forwardtest sample of provider, signed at signedAt.
func sampleOf(t *testing.T, provider string, signedAt time.Time) forwardtest.Sample {
	t.Helper()
	b, ok := forwardtest.Samples()[provider]
	if !ok {
		t.Fatalf("no forwardtest sample for %q", provider)
	}
	return b(testURL, signedAt)
}

// reqOf is the request a sample makes, received at now.
func reqOf(s forwardtest.Sample, now time.Time) *Request {
	u := testURL
	if s.Query != "" {
		u += "?" + s.Query
	}
	return &Request{Method: http.MethodPost, URL: u, Header: s.Header.Clone(), Body: bytes.Clone(s.Body), Now: now}
}

// with returns a copy of r with body replaced and headers set (name,
// value, …; an empty value deletes the header).
func with(r *Request, body []byte, pairs ...string) *Request {
	c := *r
	c.Header = r.Header.Clone()
	if body != nil {
		c.Body = body
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			c.Header.Del(pairs[i])
		} else {
			c.Header.Set(pairs[i], pairs[i+1])
		}
	}
	return &c
}

// jsonReq is a JSON request of body with the given headers.
func jsonReq(body string, now time.Time, pairs ...string) *Request {
	return &Request{Method: http.MethodPost, URL: testURL, Header: forwardtest.JSONHeader(pairs...), Body: []byte(body), Now: now}
}

// tampered is body with one byte changed.
func tampered(body []byte) []byte {
	b := bytes.Clone(body)
	i := bytes.IndexAny(b, "0123456789")
	if i < 0 {
		i = len(b) / 2
		b[i] ^= 1
		return b
	}
	if b[i] == '9' {
		b[i] = '8'
	} else {
		b[i]++
	}
	return b
}

// routeOf parses r as provider does and routes it.
func routeOf(t *testing.T, provider string, r *Request) (any, Route) {
	t.Helper()
	p, _ := Lookup(provider)
	parse := p.Parse
	if parse == nil {
		parse = ParseBody
	}
	payload, err := parse(r)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return payload, p.Route(r, payload)
}

func cfgKey(name, value string) herald.ConnectionKey {
	return herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: name, Value: value}
}

func metaKey(name, value string) herald.ConnectionKey {
	return herald.ConnectionKey{Field: herald.FieldMetadata, Name: name, Value: value}
}

// checkKeys compares route keys as sets, and checks they hold no
// duplicate.
func checkKeys(t *testing.T, got []herald.ConnectionKey, want ...herald.ConnectionKey) {
	t.Helper()
	byText := func(a, b herald.ConnectionKey) int {
		return strings.Compare(a.Field+"\x00"+a.Name+"\x00"+a.Value, b.Field+"\x00"+b.Name+"\x00"+b.Value)
	}
	g := slices.SortedFunc(slices.Values(got), byText)
	w := slices.SortedFunc(slices.Values(want), byText)
	if len(slices.Compact(slices.Clone(g))) != len(g) {
		t.Errorf("duplicate route keys: %v", got)
	}
	if !slices.Equal(g, w) {
		t.Errorf("route keys = %v, want %v", g, w)
	}
}

// secretOf picks the sample credential the provider verifies with.
func secretOf(p *Provider, s forwardtest.Sample) string {
	switch p.Secret {
	case ClientSecret:
		return s.Credentials["client_secret"]
	case WebhookOrClientSecret:
		if w := s.Credentials["webhook_secret"]; w != "" {
			return w
		}
		return s.Credentials["client_secret"]
	}
	return s.Credentials["webhook_secret"]
}

// ownProviders are the providers of hubspot.go, slack.go, linear.go,
// github.go, stripe.go, shopify.go and intercom.go.
var ownProviders = []string{"hubspot", "slack", "linear", "github-app", "github", "stripe", "shopify", "intercom"}

// TestOwnSamples checks each forwardtest sample end to end through its
// provider: it verifies, is refused when signed long ago (timestamped
// providers) or with another secret, parses to the sample's Payload, and
// routes to a connection holding the sample's connection_config and
// metadata.
func TestOwnSamples(t *testing.T) {
	now := time.Now()
	for _, name := range ownProviders {
		t.Run(name, func(t *testing.T) {
			p, _ := Lookup(name)
			s := sampleOf(t, name, now)
			secret := secretOf(p, s)
			if secret == "" {
				t.Fatalf("sample has no credential for %v: %v", p.Secret, s.Credentials)
			}
			r := reqOf(s, now.Add(2*time.Second))
			if err := p.Verify(r, secret); err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if err := p.Verify(r, secret+"x"); err == nil {
				t.Errorf("Verify with another secret = nil")
			}
			old := sampleOf(t, name, now.Add(-time.Hour))
			err := p.Verify(reqOf(old, now), secret)
			if s.Timestamped != (err != nil) {
				t.Errorf("sample signed an hour ago: Verify = %v, Timestamped = %v", err, s.Timestamped)
			}
			payload, rt := routeOf(t, name, r)
			got, err := canonjson.Marshal(payload)
			if err != nil || !bytes.Equal(got, s.Payload) {
				t.Errorf("payload = %s (%v), want %s", got, err, s.Payload)
			}
			if p.Handshake != nil {
				if _, ok := p.Handshake(r, payload, secret); ok {
					t.Errorf("sample taken for a handshake")
				}
			}
			c := &herald.Connection{}
			if s.ConnectionConfig != nil {
				c.ConnectionConfig, _ = json.Marshal(s.ConnectionConfig)
			}
			if s.Metadata != nil {
				c.Metadata, _ = json.Marshal(s.Metadata)
			}
			indexed := herald.ConnectionKeys(c)
			found := false
			for _, k := range rt.Keys {
				found = found || slices.Contains(indexed, k)
			}
			if !found {
				t.Errorf("route keys %v match none of the connection's %v", rt.Keys, indexed)
			}
		})
	}
}

// TestOwnProvidersNeverPanic feeds odd bodies, headers and payloads to
// every step of each provider.
func TestOwnProvidersNeverPanic(t *testing.T) {
	bodies := []string{
		"", " ", "null", "0", "-1", "1e400", `"str"`, "[]", "[1,null,\"x\",[],{}]", "{}", "not json", "{", "\xff\xfe",
		`{"portalId":{},"team_id":[],"team":"x","organizationId":1.5,"installation":{"id":{}},"repository":{"owner":"x","full_name":3},"organization":[],"account":true,"app_id":null,"webhookTimestamp":"soon","type":"url_verification","challenge":{}}`,
		`[{"portalId":"1","changeSource":3,"subscriptionType":null},{"portalId":null},7]`,
		`{"type":"view_submission","team":{"id":9007199254740993}}`,
		"payload=%7B%22type%22%3A%22block_actions%22%7D", "payload=%zz", "payload=", "a=1&a=2", "payload=%5B1%5D",
	}
	headers := []http.Header{
		{},
		{"Content-Type": {"application/x-www-form-urlencoded"}},
		{"Content-Type": {"text/plain; ;;"}},
	}
	garbage := []string{"", "=", ",", "v0=", "sha256=", "sha1=", "t=,v1=", "t=x,v1=zz", "t=1,v1=00,v1=", "@@@", "v0=zz", "sha256=zz", "%3A", "99999999999999999999999", "-5"}
	signed := []string{
		"X-HubSpot-Signature", "X-HubSpot-Signature-Version", "X-HubSpot-Signature-V3", "X-HubSpot-Request-Timestamp",
		"X-Slack-Signature", "X-Slack-Request-Timestamp", "Linear-Signature", "X-Hub-Signature-256", "X-Hub-Signature",
		"X-GitHub-Event", "Stripe-Signature", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain", "X-Shopify-Topic",
	}
	for _, g := range garbage {
		h := http.Header{"Content-Type": {"application/json"}}
		for _, n := range signed {
			h.Set(n, g)
		}
		headers = append(headers, h)
	}
	payloads := []any{nil, 1.0, "x", true, []any{nil, 1.0, []any{}}, map[string]any{"team": nil, "installation": "x", "repository": map[string]any{"owner": []any{}}}}
	for _, name := range ownProviders {
		p, _ := Lookup(name)
		for _, body := range bodies {
			for _, h := range headers {
				r := &Request{Method: "POST", URL: "%zz://\x00", Header: h, Body: []byte(body), Now: time.Unix(0, 0)}
				_ = p.Verify(r, "secret")
				parse := p.Parse
				if parse == nil {
					parse = ParseBody
				}
				payload, _ := parse(r)
				if p.Handshake != nil {
					p.Handshake(r, payload, "")
				}
				p.Route(r, payload)
				for _, odd := range payloads {
					if p.Handshake != nil {
						p.Handshake(r, odd, "secret")
					}
					p.Route(r, odd)
				}
			}
		}
	}
}

// The examples of HubSpot's documentation for v1 and v2
// (https://developers.hubspot.com/docs/faq/v1-request-validation,
// https://developers.hubspot.com/docs/faq/v2-request-validation).
func TestHubSpotDocumentedExamples(t *testing.T) {
	const secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
	v1Body := `[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`
	now := time.Now()
	getReq := &Request{Method: http.MethodGet, URL: "https://www.example.com/webhook_uri", Now: now, Header: http.Header{
		"X-Hubspot-Signature":         {"eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"},
		"X-Hubspot-Signature-Version": {"v2"},
	}}
	post := jsonReq(`{"example_field":"example_value"}`, now,
		"X-HubSpot-Signature", "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900",
		"X-HubSpot-Signature-Version", "v2")
	post.URL = "https://www.example.com/webhook_uri"
	v1 := jsonReq(v1Body, now,
		"X-HubSpot-Signature", "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
		"X-HubSpot-Signature-Version", "v1")
	checkSigCases(t, "hubspot", []sigCase{
		{name: "v1", req: v1, secret: secret},
		{name: "v1 without version header", req: with(v1, nil, "X-HubSpot-Signature-Version", ""), secret: secret},
		{name: "v1 tampered", req: with(v1, tampered(v1.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "v1 wrong secret", req: v1, secret: "zzz", want: sigBad, reason: reasonMismatch},
		{name: "v2 GET", req: getReq, secret: secret},
		{name: "v2 POST", req: post, secret: secret},
		{name: "v2 other URI", req: func() *Request { r := with(post, nil); r.URL += "?x=1"; return r }(), secret: secret, want: sigBad},
		{name: "v2 checked as v1", req: with(post, nil, "X-HubSpot-Signature-Version", "v1"), secret: secret, want: sigBad},
		{name: "unknown version", req: with(v1, nil, "X-HubSpot-Signature-Version", "v9"), secret: secret, want: sigBad},
	})
}

func TestHubSpotVerify(t *testing.T) {
	signedAt := time.Now()
	s := sampleOf(t, "hubspot", signedAt)
	secret := s.Credentials["client_secret"]
	now := signedAt.Add(3 * time.Second)
	r := reqOf(s, now)
	v3Only := with(r, nil, "X-HubSpot-Signature", "", "X-HubSpot-Signature-Version", "")

	// v3 as HubSpot documents it, over a URI whose query HubSpot decodes.
	const encoded = "https://herald.example.com/webhook/env_1/hs?cb=https%3A%2F%2Fapp.example.com%2Fdone%3Fa%3D1&who=a%40b.c"
	const decoded = "https://herald.example.com/webhook/env_1/hs?cb=https://app.example.com/done?a%3D1&who=a@b.c"
	ts := strconv.FormatInt(signedAt.UnixMilli(), 10)
	body := `[{"portalId":1,"objectId":2}]`
	v3Encoded := jsonReq(body, now,
		"X-HubSpot-Signature-v3", forwardtest.Base64(forwardtest.HMACSHA256(secret, "POST", decoded, body, ts)),
		"X-HubSpot-Request-Timestamp", ts)
	v3Encoded.URL = encoded

	v1Sum := sha256.Sum256([]byte(secret + body))
	checkSigCases(t, "hubspot", []sigCase{
		{name: "sample (v3 and v1)", req: r, secret: secret},
		{name: "v3 only", req: v3Only, secret: secret},
		{name: "v3 over a decoded URI", req: v3Encoded, secret: secret},
		{name: "v3 over another URI", req: func() *Request { c := with(v3Only, nil); c.URL += "/x"; return c }(), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "v3 other method", req: func() *Request { c := with(v3Only, nil); c.Method = "PUT"; return c }(), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "tampered body", req: with(r, tampered(r.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "wrong secret", req: r, secret: "not-the-secret", want: sigBad, reason: reasonMismatch},
		{name: "v3 preferred over a valid v1", req: with(r, nil, "X-HubSpot-Signature-v3", forwardtest.Base64([]byte("nope"))), secret: secret, want: sigBad},
		{name: "expired", req: reqOf(s, signedAt.Add(6*time.Minute)), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "from the future", req: reqOf(s, signedAt.Add(-6*time.Minute)), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "expired v3, v1 not used", req: reqOf(sampleOf(t, "hubspot", signedAt.Add(-time.Hour)), now), secret: secret, want: sigBad},
		{name: "timestamp changed", req: with(r, nil, "X-HubSpot-Request-Timestamp", strconv.FormatInt(signedAt.UnixMilli()+1, 10)), secret: secret, want: sigBad},
		{name: "v3 without timestamp", req: with(r, nil, "X-HubSpot-Request-Timestamp", ""), secret: secret, want: sigBad},
		{name: "v3 timestamp not a number", req: with(r, nil, "X-HubSpot-Request-Timestamp", "yesterday"), secret: secret, want: sigBad},
		{name: "v3 not base64", req: with(r, nil, "X-HubSpot-Signature-v3", "%%%"), secret: secret, want: sigBad},
		{name: "v1 only", req: jsonReq(body, now, "X-HubSpot-Signature", forwardtest.Hex(v1Sum[:])), secret: secret},
		{name: "v1 not hex", req: jsonReq(body, now, "X-HubSpot-Signature", "zz"), secret: secret, want: sigBad},
		{name: "no signature", req: jsonReq(body, now), secret: secret, want: sigNone},
		{name: "timestamp alone", req: jsonReq(body, now, "X-HubSpot-Request-Timestamp", ts), secret: secret, want: sigNone},
	})
}

func TestHubSpotRoute(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name      string
		body      string
		keys      []herald.ConnectionKey
		eventType string
	}{
		{
			name: "several portals",
			body: `[{"eventId":1,"portalId":62515,"objectId":9007199254740993,"subscriptionType":"contact.propertyChange","changeSource":"CRM"},` +
				`{"eventId":2,"portalId":99160,"objectId":12,"subscriptionType":"contact.creation","changeSource":"CRM"},` +
				`{"eventId":3,"portalId":62515,"objectId":13,"subscriptionType":"contact.propertyChange","changeSource":"API"}]`,
			keys:      []herald.ConnectionKey{cfgKey("portalId", "62515"), cfgKey("portalId", "99160")},
			eventType: "contact.propertyChange,contact.creation",
		},
		{
			name:      "imports route nowhere",
			body:      `[{"portalId":777,"subscriptionType":"contact.creation","changeSource":"IMPORT"},{"portalId":62515,"subscriptionType":"contact.creation","changeSource":"CRM"}]`,
			keys:      []herald.ConnectionKey{cfgKey("portalId", "62515")},
			eventType: "contact.creation",
		},
		{
			name:      "one event, not in an array",
			body:      `{"portalId":62515,"subscriptionType":"deal.creation"}`,
			keys:      []herald.ConnectionKey{cfgKey("portalId", "62515")},
			eventType: "deal.creation",
		},
		{
			name: "portal id as a string, a big number, odd types",
			body: `[{"portalId":"62515"},{"portalId":1e21},{"portalId":{}},{"portalId":null},{},5,"x"]`,
			keys: []herald.ConnectionKey{cfgKey("portalId", "62515"), cfgKey("portalId", "1e+21")},
		},
		{name: "empty array", body: `[]`},
		{name: "not an event", body: `"hello"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			payload, rt := routeOf(t, "hubspot", jsonReq(c.body, now))
			checkKeys(t, rt.Keys, c.keys...)
			if rt.EventType != c.eventType {
				t.Errorf("EventType = %q, want %q", rt.EventType, c.eventType)
			}
			if rt.Answer != nil {
				t.Errorf("Answer = %+v, want nil", rt.Answer)
			}
			// The whole body is forwarded.
			want, _ := canonjson.Canonicalize([]byte(c.body))
			if got, _ := canonjson.Marshal(payload); !bytes.Equal(got, want) {
				t.Errorf("payload = %s, want %s", got, want)
			}
		})
	}
}
