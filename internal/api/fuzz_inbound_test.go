package api_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

// fuzzProviders are the integrations FuzzInbound posts to: one without a
// signature, and signing ones of every kind of scheme (hex and base64
// HMACs, timestamps, a signed URL, form bodies).
var fuzzProviders = []string{"unauthenticated", "github-app", "slack", "hubspot", "stripe", "shopify", "standard-webhooks"}

// FuzzInbound posts provider requests, headers and body both fuzzed, to
// POST /webhook/{environmentId}/{providerConfigKey} and checks that the
// answer is never a 5xx, and that what is stored is whole: a 200 logs one
// event whose deliveries are those its routing gives; a 401 logs one
// refused event and no delivery; any other refusal stores nothing.
func FuzzInbound(f *testing.F) {
	fa := newFuzzAPI(f)
	ctx := f.Context()
	for _, p := range fuzzProviders {
		s := forwardtest.Samples()[p]("", time.Now())
		creds := map[string]any{}
		for k, v := range s.Credentials {
			creds[k] = v
		}
		if _, _, err := fa.registry.PutIntegration(ctx, fa.lax.ID, p, map[string]any{"provider": p, "credentials": creds}); err != nil {
			f.Fatal(err)
		}
		conn := map[string]any{}
		if s.ConnectionConfig != nil {
			conn["connection_config"] = s.ConnectionConfig
		}
		if _, _, err := fa.registry.PutConnection(ctx, fa.lax.ID, p, sampleConnection, conn); err != nil {
			f.Fatal(err)
		}
	}
	target := func(i uint8, query string) (string, string) {
		p := fuzzProviders[int(i)%len(fuzzProviders)]
		path := "/webhook/" + fa.lax.ID + "/" + p
		if query != "" {
			path += "?" + query
		}
		return p, path
	}
	for i, p := range fuzzProviders {
		_, path := target(uint8(i), "")
		s := forwardtest.Samples()[p]("http://herald.test"+path, time.Now())
		var hdr strings.Builder
		s.Header.Write(&hdr)
		f.Add(uint8(i), s.Query, hdr.String(), s.Body)
	}
	f.Add(uint8(0), "", "Content-Type: application/x-www-form-urlencoded\r\n", []byte("payload=%7B%22a%22%3A1%7D&connectionId=conn-1"))
	f.Add(uint8(2), "", "Content-Type: application/x-www-form-urlencoded\r\nX-Slack-Signature: v0=00\r\nX-Slack-Request-Timestamp: 1\r\n", []byte("payload=%7B"))
	f.Add(uint8(0), "nangoConnectionId=x", "", []byte(`{"connectionId":["conn-1"],"type":{}}`))

	f.Fuzz(func(t *testing.T, which uint8, query, headers string, body []byte) {
		provider, path := target(which, query)
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			return // not a request target a client can send
		}
		var hdr []string
		tp := bufio.NewReader(strings.NewReader(headers))
		for {
			line, err := tp.ReadString('\n')
			if name, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":"); ok && isToken(name) && validValue(value) {
				hdr = append(hdr, name, strings.TrimSpace(value))
			}
			if err != nil {
				break
			}
		}
		newest := ""
		if before := fa.inboundEvents(t, provider); len(before) > 0 {
			newest = before[0].ID
		}
		rec := fa.serve("POST", path, "", body, hdr...)
		r, _ := checkAnswer(t, provider, rec)
		after := fa.inboundEvents(t, provider)
		added := 0
		for _, ev := range after {
			if ev.ID > newest { // UUIDv7: later ids sort after
				added++
			}
		}
		switch {
		case r.status == http.StatusOK:
			if added != 1 {
				t.Fatalf("200 stored %d events, want 1", added)
			}
			ev, ds, err := fa.store.GetEvent(ctx, fa.lax.ID, after[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			var in struct {
				Matched []string `json:"matched_connections"`
			}
			if err := json.Unmarshal(ev.Inbound, &in); err != nil {
				t.Fatalf("inbound log %q: %v", ev.Inbound, err)
			}
			want := max(1, len(in.Matched)) // one URL
			if ev.Skipped != "" {
				want = 0
			}
			if len(ds) != want {
				t.Fatalf("event %s (skipped %q, matched %v) has %d deliveries, want %d", ev.ID, ev.Skipped, in.Matched, len(ds), want)
			}
			if !json.Valid(ev.Body) {
				t.Fatalf("stored payload %q is not JSON", ev.Body)
			}
		case r.status == http.StatusUnauthorized:
			if added != 1 || after[0].Skipped != "invalid_signature" {
				t.Fatalf("401 stored %d events (%+v), want one refusal", added, after)
			}
			if _, ds, _ := fa.store.GetEvent(ctx, fa.lax.ID, after[0].ID); len(ds) != 0 {
				t.Fatalf("a refused request has %d deliveries", len(ds))
			}
		default:
			if added != 0 {
				t.Fatalf("%d %s stored %d events", r.status, r.body, added)
			}
		}
	})
}

// inboundEvents lists the newest forward events of one integration of
// lax, newest first: enough to see what one request added.
func (fa *fuzzAPI) inboundEvents(t *testing.T, provider string) []herald.Event {
	t.Helper()
	evs, err := fa.store.ListEvents(t.Context(), fa.lax.ID, herald.EventFilter{Type: "forward", ProviderConfigKey: provider, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(s string) bool {
	for _, c := range []byte(s) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
