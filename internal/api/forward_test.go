package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
	"github.com/heraldhq/herald/internal/testkit"
	"github.com/heraldhq/herald/nango"
)

// idRouted lists the providers whose samples route by connection id; the
// others route by the sample's ConnectionConfig or Metadata.
var idRouted = map[string]bool{"unauthenticated": true, "standard-webhooks": true}

// sampleConnection is the connection id every sample routes to.
const sampleConnection = "conn-1"

// forwardEnv creates an environment whose primary URL is rc, an integration
// pck for the sample's provider with its credentials (extra fields merged),
// and, when connect, the connection the sample routes to.
func (f *fixture) forwardEnv(t *testing.T, name string, rc *testkit.Receiver, s forwardtest.Sample, pck string, connect bool, extra map[string]any) *herald.Environment {
	t.Helper()
	env := f.newEnv(t, name, map[string]any{"primary_url": rc.URL("/hook")})
	in := map[string]any{"provider": s.Provider, "credentials": s.Credentials}
	for k, v := range extra {
		in[k] = v
	}
	f.put(t, env.SecretKey, "/integrations/"+pck, in).want(t, http.StatusOK)
	if connect {
		f.put(t, env.SecretKey, "/connections/"+pck+"/"+sampleConnection,
			map[string]any{"connection_config": s.ConnectionConfig, "metadata": s.Metadata}).want(t, http.StatusOK)
	}
	return env
}

func (f *fixture) put(t *testing.T, key, path string, body any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return f.do(t, http.MethodPut, path, key, string(b))
}

// inboundPath is the inbound route of env's integration pck.
func inboundPath(env *herald.Environment, pck, query string) string {
	p := "/webhook/" + env.ID + "/" + pck
	if query != "" {
		p += "?" + query
	}
	return p
}

// sign builds the sample of provider for the fixture's inbound URL.
func (f *fixture) sign(t *testing.T, provider string, env *herald.Environment, pck string, at time.Time) forwardtest.Sample {
	t.Helper()
	b, ok := forwardtest.Samples()[provider]
	if !ok {
		t.Fatalf("no sample for %s", provider)
	}
	// The query is part of what some providers sign: build once to learn
	// it, then for the URL that carries it.
	q := b("", at).Query
	return b(f.url+inboundPath(env, pck, q), at)
}

// post sends a provider's request to the inbound route.
func (f *fixture) post(t *testing.T, path string, header http.Header, body []byte) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// forwardBody is Nango's forward body for one connection, in canonical
// key order.
func forwardBody(provider, pck, conn string, payload []byte) []byte {
	return fmt.Appendf(nil, `{"connectionId":%q,"from":%q,"payload":%s,"providerConfigKey":%q,"type":"forward"}`,
		conn, provider, payload, pck)
}

// eventsOf lists env's events of one integration, newest first.
func (f *fixture) eventsOf(t *testing.T, env *herald.Environment, pck string) []map[string]any {
	t.Helper()
	r := f.do(t, http.MethodGet, "/events?type=forward&provider_config_key="+pck, env.SecretKey, nil)
	r.want(t, http.StatusOK)
	var page struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Data
}

// checkSigned checks that a forward arrived signed with env's key and with
// the provider's headers filtered as SPEC §9 says.
func checkSigned(t *testing.T, env *herald.Environment, got testkit.Received, sent http.Header) {
	t.Helper()
	if sig := got.Header.Get(nango.HeaderHMAC); sig != nango.SignHMAC(env.SigningKey, got.Body) {
		t.Errorf("X-Nango-Hmac-Sha256 %q does not verify", sig)
	}
	if sig := got.Header.Get(nango.HeaderLegacySignature); sig != nango.SignLegacy(env.SigningKey, got.Body) {
		t.Errorf("X-Nango-Signature %q does not verify", sig)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := got.Header.Get("User-Agent"); !strings.HasPrefix(ua, "herald/") {
		t.Errorf("User-Agent %q: the provider's must not be forwarded", ua)
	}
	for name, vs := range sent {
		lower := strings.ToLower(name)
		switch {
		case lower == "content-type", lower == "user-agent":
		case lower == "cookie", lower == "authorization", strings.HasPrefix(lower, "sec-"), strings.HasPrefix(lower, "proxy-"):
			if got.Header.Get(name) != "" {
				t.Errorf("header %s forwarded; SPEC §9 denies it", name)
			}
		default:
			if g := got.Header.Get(name); g != strings.Join(vs, ", ") {
				t.Errorf("header %s = %q, want the provider's %q", name, g, strings.Join(vs, ", "))
			}
		}
	}
}

// TestForwardEveryProvider posts each provider's webhook, signed as the
// provider documents it, and follows it to the app: the provider's answer,
// the forward body byte for byte, the headers, the signatures. A tampered
// body, and for timestamped providers an expired signature, are refused
// with 401 and logged without any delivery.
func TestForwardEveryProvider(t *testing.T) {
	f := newFixture(t, options{})
	names := forwardtest.Names()
	if len(names) < 15 {
		t.Fatalf("%d provider samples (%v), want every provider of the table", len(names), names)
	}
	for _, p := range forward.Names() {
		if _, ok := forwardtest.Samples()[p]; !ok {
			t.Errorf("provider %s has no sample", p)
		}
	}
	for i, provider := range names {
		t.Run(provider, func(t *testing.T) {
			rc := newReceiver(t)
			pck := "int-" + provider
			s0 := forwardtest.Samples()[provider]("", time.Now())
			env := f.forwardEnv(t, fmt.Sprintf("fwd-%d", i), rc, s0, pck, true, nil)

			s := f.sign(t, provider, env, pck, time.Now())
			// Headers a browser or proxy adds, which must never be forwarded.
			h := s.Header.Clone()
			h.Set("Cookie", "session=1")
			h.Set("Sec-Fetch-Mode", "cors")
			h.Set("User-Agent", provider+"-webhooks/1.0")
			r := f.post(t, inboundPath(env, pck, s.Query), h, s.Body)
			if r.status != http.StatusOK {
				t.Fatalf("provider answered %d %s", r.status, r.body)
			}
			testkit.WaitFor(t, "the forward", func() bool { return len(rc.Requests()) == 1 })
			got := rc.Requests()[0]
			want := forwardBody(provider, pck, sampleConnection, s.Payload)
			if !bytes.Equal(got.Body, want) {
				t.Errorf("forward body\n got %s\nwant %s", got.Body, want)
			}
			checkSigned(t, env, got, h)

			evs := f.eventsOf(t, env, pck)
			if len(evs) != 1 {
				t.Fatalf("%d events logged, want 1", len(evs))
			}
			in, _ := evs[0]["inbound"].(map[string]any)
			if in["verified"] != (s.Provider != "unauthenticated") {
				t.Errorf("inbound log %v: verified wrong", in)
			}
			if conns, _ := in["matched_connections"].([]any); len(conns) != 1 || conns[0] != sampleConnection {
				t.Errorf("inbound log matched %v", in["matched_connections"])
			}

			if provider == "unauthenticated" {
				return
			}
			// A tampered body: refused, logged, nothing forwarded.
			bad := bytes.Replace(s.Body, []byte(`"`), []byte(`"x`), 1)
			r = f.post(t, inboundPath(env, pck, s.Query), s.Header, bad)
			checkError(t, r, http.StatusUnauthorized, "unauthorized", "signature")
			if s.Timestamped {
				old := f.sign(t, provider, env, pck, time.Now().Add(-time.Hour))
				r = f.post(t, inboundPath(env, pck, old.Query), old.Header, old.Body)
				checkError(t, r, http.StatusUnauthorized, "unauthorized", "signature")
			}
			evs = f.eventsOf(t, env, pck)
			for _, ev := range evs[:len(evs)-1] {
				if ev["skipped"] != "invalid_signature" {
					t.Errorf("refused request logged as %v", ev)
				}
				r := f.do(t, http.MethodGet, "/events/"+ev["id"].(string), env.SecretKey, nil)
				var full struct {
					Deliveries []any `json:"deliveries"`
				}
				json.Unmarshal(r.body, &full)
				if len(full.Deliveries) != 0 {
					t.Errorf("refused request produced deliveries: %s", r.body)
				}
			}
			if n := len(rc.Requests()); n != 1 {
				t.Errorf("%d requests reached the app, want the 1 valid forward", n)
			}
		})
	}
}

// TestForwardHandshakes: providers' own verification requests are answered
// as each provider expects, logged, and not forwarded.
func TestForwardHandshakes(t *testing.T) {
	f := newFixture(t, options{})
	hs := forwardtest.Handshakes()
	for _, p := range []string{"slack", "zoom", "xero"} {
		if hs[p] == nil {
			t.Fatalf("no handshake sample for %s", p)
		}
	}
	i := 0
	for provider, build := range hs {
		i++
		t.Run(provider, func(t *testing.T) {
			rc := newReceiver(t)
			pck := "hs-" + provider
			h0 := build("", time.Now())
			env := f.forwardEnv(t, fmt.Sprintf("hs-%d", i), rc, h0.Sample, pck, false, nil)
			h := build(f.url+inboundPath(env, pck, h0.Query), time.Now())
			r := f.post(t, inboundPath(env, pck, h.Query), h.Header, h.Body)
			if r.status != h.Status {
				t.Fatalf("status %d, want %d: %s", r.status, h.Status, r.body)
			}
			if h.Answer != nil && !bytes.Equal(r.body, h.Answer) {
				t.Errorf("answer %q, want %q", r.body, h.Answer)
			}
			if h.ContentType != "" && r.header.Get("Content-Type") != h.ContentType {
				t.Errorf("Content-Type %q, want %q", r.header.Get("Content-Type"), h.ContentType)
			}
			evs := f.eventsOf(t, env, pck)
			if len(evs) != 1 || evs[0]["skipped"] != "handshake" {
				t.Errorf("handshake logged as %v", evs)
			}
			if provider == "xero" {
				// Xero's intent-to-receive check also sends a wrong signature,
				// which must get 401.
				bad := bytes.Replace(h.Body, []byte(`"`), []byte(`"x`), 1)
				r := f.post(t, inboundPath(env, pck, h.Query), h.Header, bad)
				checkError(t, r, http.StatusUnauthorized, "unauthorized")
			}
		})
	}
}

// TestForwardRouting: several matching connections get one forward each
// (a connection matched by several keys once), an override sends that
// connection's forward to its own URL only, and no match forwards the
// provider's body unwrapped to every environment URL.
func TestForwardRouting(t *testing.T) {
	f := newFixture(t, options{})
	rc, other := newReceiver(t), newReceiver(t)
	const pck = "hubspot-app"
	s0 := forwardtest.Samples()["hubspot"]("", time.Now())
	env := f.forwardEnv(t, "routing", rc, s0, pck, false, nil)
	f.do(t, http.MethodPatch, "/environment/webhook", env.SecretKey, `{"secondary_url":"`+rc.URL("/second")+`"}`).want(t, http.StatusOK)

	// No connection yet: the array itself, to both URLs.
	s := f.sign(t, "hubspot", env, pck, time.Now())
	f.post(t, inboundPath(env, pck, s.Query), s.Header, s.Body).want(t, http.StatusOK)
	testkit.WaitFor(t, "unwrapped forwards", func() bool { return len(rc.Requests()) == 2 })
	for _, got := range rc.Requests() {
		if !bytes.Equal(got.Body, s.Payload) {
			t.Errorf("unmatched forward %s, want the payload unwrapped %s", got.Body, s.Payload)
		}
	}

	// Three connections for the same portal, one of them with an override.
	for _, c := range []struct {
		id       string
		override any
	}{{"a", nil}, {"b", nil}, {"c", other.URL("/own")}} {
		f.put(t, env.SecretKey, "/connections/"+pck+"/"+c.id, map[string]any{"connection_config": s0.ConnectionConfig,
			"metadata": s0.ConnectionConfig, "webhook_url_override": c.override}).want(t, http.StatusOK)
	}
	s = f.sign(t, "hubspot", env, pck, time.Now())
	f.post(t, inboundPath(env, pck, s.Query), s.Header, s.Body).want(t, http.StatusOK)
	// a and b: primary and secondary each; c: its override only.
	testkit.WaitFor(t, "forwards", func() bool { return len(rc.Requests()) == 6 && len(other.Requests()) == 1 })
	count := map[string]int{}
	for _, got := range append(rc.Requests()[2:], other.Requests()...) {
		var b struct {
			ConnectionID string `json:"connectionId"`
		}
		json.Unmarshal(got.Body, &b)
		count[b.ConnectionID]++
		if !bytes.Equal(got.Body, forwardBody("hubspot", pck, b.ConnectionID, s.Payload)) {
			t.Errorf("forward %s", got.Body)
		}
	}
	if count["a"] != 2 || count["b"] != 2 || count["c"] != 1 {
		t.Errorf("forwards per connection %v, want a:2 b:2 c:1", count)
	}
}

// TestForwardErrors: the SPEC's errors of the inbound route, its limits,
// and require_signature.
func TestForwardErrors(t *testing.T) {
	frozen := time.Now()
	f := newFixture(t, options{forwardNow: func() time.Time { return frozen }})
	rc := newReceiver(t)
	s0 := forwardtest.Samples()["github-app"]("", frozen)
	env := f.forwardEnv(t, "errors", rc, s0, "gh", true, map[string]any{"max_body_bytes": 4096, "rate_limit_per_s": 3})
	s := f.sign(t, "github-app", env, "gh", frozen)

	checkError(t, f.post(t, "/webhook/not-a-uuid/gh", s.Header, s.Body), http.StatusBadRequest, "invalid_uri_params", "environmentId")
	checkError(t, f.post(t, "/webhook/"+env.ID+"/%00", s.Header, s.Body), http.StatusBadRequest, "invalid_uri_params")
	checkError(t, f.post(t, "/webhook/00000000-0000-4000-8000-000000000000/gh", s.Header, s.Body), http.StatusNotFound, "unknown_environment")
	checkError(t, f.post(t, "/webhook/"+env.ID+"/nope", s.Header, s.Body), http.StatusNotFound, "unknown_provider_config")

	big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 5000)...)
	big = append(big, `"}`...)
	checkError(t, f.post(t, inboundPath(env, "gh", ""), s.Header, big), http.StatusRequestEntityTooLarge, "payload_too_large")

	// Unsigned, with a secret set: require_signature defaults to true.
	unsigned := s.Header.Clone()
	unsigned.Del("X-Hub-Signature-256")
	checkError(t, f.post(t, inboundPath(env, "gh", ""), unsigned, s.Body), http.StatusUnauthorized, "unauthorized")

	// The rate limit (3 a second; the clock is frozen, so no token comes
	// back): the requests above took 2 tokens, one is left.
	f.post(t, inboundPath(env, "gh", ""), s.Header, s.Body).want(t, http.StatusOK)
	r := f.post(t, inboundPath(env, "gh", ""), s.Header, s.Body)
	checkError(t, r, http.StatusTooManyRequests, "too_many_requests")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}

	// require_signature false: an unsigned request is accepted, logged as
	// not verified.
	f.put(t, env.SecretKey, "/integrations/gh2", map[string]any{"provider": "github-app", "require_signature": false,
		"credentials": s0.Credentials}).want(t, http.StatusOK)
	f.post(t, inboundPath(env, "gh2", ""), unsigned, s.Body).want(t, http.StatusOK)
	evs := f.eventsOf(t, env, "gh2")
	if in, _ := evs[0]["inbound"].(map[string]any); len(evs) != 1 || in["verified"] != false {
		t.Errorf("unsigned request logged as %v", evs)
	}

	// No secret at all: accepted, not verified.
	f.put(t, env.SecretKey, "/integrations/gh3", map[string]any{"provider": "github-app"}).want(t, http.StatusOK)
	f.post(t, inboundPath(env, "gh3", ""), s.Header, s.Body).want(t, http.StatusOK)
	evs = f.eventsOf(t, env, "gh3")
	if in, _ := evs[0]["inbound"].(map[string]any); len(evs) != 1 || in["verified"] != false || in["verification"] != "no secret configured" {
		t.Errorf("request without a secret logged as %v", evs)
	}
}
