package nango_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/testkit"
	"github.com/heraldhq/herald/nango"
)

// herald is a herald process run in this test with server.Run on a
// temporary SQLite file, private URLs allowed.
type herald struct {
	url      string
	adminKey string
}

func startHerald(t *testing.T) *herald {
	t.Helper()
	h := &herald{adminKey: "admin-key-for-nango"}
	h.url = heraldtest.Run(t, h.adminKey)
	return h
}

// call makes one API request, checks its status and decodes the JSON
// answer into out when out is not nil.
func (h *herald) call(t *testing.T, method, path, key, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// newEnv creates an environment, applies settings, and returns its API key
// and webhook signing key.
func (h *herald) newEnv(t *testing.T, name, settings string) (apiKey, signingKey string) {
	t.Helper()
	var env struct {
		SecretKey  string `json:"secret_key"`
		SigningKey string `json:"webhook_signing_key"`
	}
	h.call(t, "POST", "/admin/environments", h.adminKey, `{"name":"`+name+`"}`, http.StatusCreated, &env)
	h.call(t, "PATCH", "/environment/webhook", env.SecretKey, settings, http.StatusOK, nil)
	return env.SecretKey, env.SigningKey
}

// capture is one request that passed the middleware.
type capture struct {
	header  http.Header
	raw     []byte
	webhook nango.Webhook
}

// captures keeps what the middleware let through, by X-Herald-Event-Id.
type captures struct {
	mu   sync.Mutex
	byID map[string]capture
}

func (c *captures) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wh, ok := nango.WebhookFrom(r.Context())
		raw, ok2 := nango.RawBodyFrom(r.Context())
		if !ok || !ok2 {
			http.Error(w, "no webhook in context", http.StatusInternalServerError)
			return
		}
		c.mu.Lock()
		c.byID[r.Header.Get("X-Herald-Event-Id")] = capture{r.Header.Clone(), raw, wh}
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
}

func (c *captures) get(id string) (capture, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, ok := c.byID[id]
	return got, ok
}

// TestReceiveFromHerald sends one event of each type through a real herald
// to a loopback receiver behind the middleware, with Standard Webhooks on:
// each is accepted and decoded to its type. The requests herald sent are
// then replayed with one thing wrong each, and refused with the right
// error; and a receiver with the wrong key makes herald log a 401.
func TestReceiveFromHerald(t *testing.T) {
	h := startHerald(t)
	apiKey, signingKey := h.newEnv(t, "receiving", `{"standard_webhooks":true,"retry":{"max_retries":0}}`)

	got := &captures{byID: map[string]capture{}}
	verifier := &nango.Verifier{Key: signingKey}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks", verifier.Middleware(got.handler()))
	mux.Handle("POST /alerts", verifier.Middleware(got.handler()))
	wrongKey := &nango.Verifier{Key: "not-the-signing-key"}
	mux.Handle("POST /wrong-key", wrongKey.Middleware(got.handler()))
	rcv := httptest.NewServer(mux)
	defer rcv.Close()
	h.call(t, "PATCH", "/environment/webhook", apiKey, `{"primary_url":"`+rcv.URL+`/hooks","alert_url":"`+rcv.URL+`/alerts"}`, http.StatusOK, nil)

	events := []struct {
		name  string
		body  string
		check func(t *testing.T, w nango.Webhook)
	}{
		{"auth", `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google",` +
			`"environment":"prod","operation":"refresh","success":false,"error":{"type":"refresh_token_external_error","description":"expired"},"tags":{"team":"a"}}`,
			func(t *testing.T, w nango.Webhook) {
				a, ok := w.(*nango.AuthWebhook)
				if !ok || a.Operation != nango.OperationRefresh || a.Success || a.Error.Type != "refresh_token_external_error" || a.Tags["team"] != "a" {
					t.Errorf("got %#v", w)
				}
			}},
		{"sync", `{"type":"sync","connectionId":"c2","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"INCREMENTAL",` +
			`"success":true,"responseResults":{"added":3,"updated":1,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z","syncMetadata":{"run":7}}`,
			func(t *testing.T, w nango.Webhook) {
				s, ok := w.(*nango.SyncWebhook)
				if !ok || s.Model != "Issue" || s.SyncVariant != "base" || s.ResponseResults.Added != 3 || s.From != "nango" {
					t.Errorf("got %#v", w)
				}
				if u := nango.UnknownFields(w); len(u) != 1 || u[0] != "syncMetadata" {
					t.Errorf("UnknownFields = %q", u)
				}
			}},
		{"async_action", `{"type":"async_action","connectionId":"c3","providerConfigKey":"p","payload":{"id":"a1","statusUrl":"/action/a1"}}`,
			func(t *testing.T, w nango.Webhook) {
				a, ok := w.(*nango.AsyncActionWebhook)
				if !ok || a.Payload.StatusURL != "/action/a1" || a.ConnectionID != "c3" {
					t.Errorf("got %#v", w)
				}
			}},
		{"forward", `{"type":"forward","from":"hubspot","providerConfigKey":"hubspot","connectionId":"c4",` +
			`"payload":[{"subscriptionType":"contact.creation","objectId":123,"note":"<&> \u2028"}]}`,
			func(t *testing.T, w nango.Webhook) {
				f, ok := w.(*nango.ForwardWebhook)
				if !ok || f.From != "hubspot" || f.ConnectionID != "c4" {
					t.Errorf("got %#v", w)
					return
				}
				if p, ok := f.Payload.([]any); !ok || len(p) != 1 || p[0].(map[string]any)["note"] != "<&> \u2028" {
					t.Errorf("Payload = %#v", f.Payload)
				}
			}},
	}
	ids := make([]string, len(events))
	for i, e := range events {
		var accepted struct {
			ID         string `json:"id"`
			Deliveries []any  `json:"deliveries"`
		}
		h.call(t, "POST", "/events", apiKey, e.body, http.StatusAccepted, &accepted)
		if len(accepted.Deliveries) != 1 {
			t.Fatalf("%s: %d deliveries", e.name, len(accepted.Deliveries))
		}
		ids[i] = accepted.ID
	}
	testkit.WaitFor(t, "the four webhooks through the middleware", func() bool {
		for _, id := range ids {
			if _, ok := got.get(id); !ok {
				return false
			}
		}
		return true
	})

	var sent []capture
	for i, e := range events {
		c, _ := got.get(ids[i])
		sent = append(sent, c)
		t.Run(e.name, func(t *testing.T) {
			if c.webhook.WebhookType() != nango.Type(e.name) {
				t.Fatalf("type %q", c.webhook.WebhookType())
			}
			e.check(t, c.webhook)
			// The typed value gives back herald's exact bytes.
			if canon, err := c.webhook.Canonical(); err != nil || !bytes.Equal(canon, c.raw) {
				t.Errorf("Canonical = %s, %v\nherald sent %s", canon, err, c.raw)
			}
			if c.header.Get(nango.HeaderStandardSignature) == "" || c.header.Get(nango.HeaderStandardID) != ids[i] {
				t.Errorf("no Standard Webhooks headers: %v", c.header)
			}
		})
	}

	// Replays of what herald sent, each with one thing changed.
	first := sent[1] // the sync webhook
	ts, err := strconv.ParseInt(first.header.Get(nango.HeaderStandardTimestamp), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	sentAt := time.Unix(ts, 0)
	strip := func(names ...string) http.Header {
		hd := first.header.Clone()
		for _, n := range names {
			hd.Del(n)
		}
		return hd
	}
	tampered := bytes.Replace(first.raw, []byte(`"added":3`), []byte(`"added":4`), 1)
	if bytes.Equal(tampered, first.raw) {
		t.Fatal("the body was not tampered with")
	}
	replays := []struct {
		name   string
		v      nango.Verifier
		header http.Header
		body   []byte
		want   error // nil: accepted
		status int
	}{
		{"as sent", nango.Verifier{Key: signingKey}, first.header, first.raw, nil, http.StatusNoContent},
		{"as sent, Standard Webhooks required", nango.Verifier{Key: signingKey, Require: nango.SchemeStandard}, first.header, first.raw, nil, http.StatusNoContent},
		{"whsec_ form of the key", nango.Verifier{Key: nango.StandardSecret(signingKey)}, first.header, first.raw, nil, http.StatusNoContent},
		{"legacy header only", nango.Verifier{Key: signingKey}, strip(nango.HeaderHMAC, nango.HeaderStandardSignature), first.raw, nil, http.StatusNoContent},
		{"Standard Webhooks only", nango.Verifier{Key: signingKey}, strip(nango.HeaderHMAC, nango.HeaderLegacySignature), first.raw, nil, http.StatusNoContent},
		{"tampered body", nango.Verifier{Key: signingKey}, first.header, tampered, nango.ErrBadSignature, http.StatusUnauthorized},
		{"tampered body, legacy header only", nango.Verifier{Key: signingKey}, strip(nango.HeaderHMAC, nango.HeaderStandardSignature), tampered, nango.ErrBadSignature, http.StatusUnauthorized},
		{"wrong key", nango.Verifier{Key: "not-the-signing-key"}, first.header, first.raw, nango.ErrBadSignature, http.StatusUnauthorized},
		{"old timestamp", nango.Verifier{Key: signingKey, Now: func() time.Time { return sentAt.Add(10 * time.Minute) }}, first.header, first.raw, nango.ErrTimestampTooOld, http.StatusUnauthorized},
		{"timestamp ahead of the clock", nango.Verifier{Key: signingKey, Now: func() time.Time { return sentAt.Add(-10 * time.Minute) }}, first.header, first.raw, nango.ErrTimestampOutOfTolerance, http.StatusUnauthorized},
		{"Standard Webhooks stripped, required", nango.Verifier{Key: signingKey, Require: nango.SchemeStandard}, strip(nango.HeaderStandardSignature), first.raw, nango.ErrNoSignature, http.StatusUnauthorized},
		{"no signature", nango.Verifier{Key: signingKey}, strip(nango.HeaderHMAC, nango.HeaderLegacySignature, nango.HeaderStandardSignature), first.raw, nango.ErrNoSignature, http.StatusUnauthorized},
		{"over MaxBody", nango.Verifier{Key: signingKey, MaxBody: int64(len(first.raw) - 1)}, first.header, first.raw, nango.ErrBodyTooLarge, http.StatusRequestEntityTooLarge},
	}
	for _, r := range replays {
		t.Run("replay "+r.name, func(t *testing.T) {
			req := func() *http.Request {
				req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(r.body))
				req.Header = r.header.Clone()
				return req
			}
			wh, _, err := r.v.Verify(req())
			if !errors.Is(err, r.want) || (err == nil) != (r.want == nil) {
				t.Fatalf("Verify: err = %v, want %v", err, r.want)
			}
			if err == nil {
				if s, ok := wh.(*nango.SyncWebhook); !ok || s.ConnectionID != "c2" {
					t.Errorf("Verify = %#v", wh)
				}
			}
			called := false
			rec := httptest.NewRecorder()
			r.v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				called = true
				w.WriteHeader(http.StatusNoContent)
			})).ServeHTTP(rec, req())
			if rec.Code != r.status || called != (r.want == nil) {
				t.Errorf("middleware: %d %q, next called %v; want %d", rec.Code, rec.Body, called, r.status)
			}
		})
	}

	t.Run("unknown type: herald's endpoint.disabled notice", func(t *testing.T) {
		var endpoints struct {
			Data []struct {
				ID  string `json:"id"`
				URL string `json:"url"`
			} `json:"data"`
		}
		h.call(t, "GET", "/endpoints", apiKey, "", http.StatusOK, &endpoints)
		var id string
		for _, e := range endpoints.Data {
			if e.URL == rcv.URL+"/hooks" {
				id = e.ID
			}
		}
		if id == "" {
			t.Fatalf("no endpoint for %s/hooks in %+v", rcv.URL, endpoints.Data)
		}
		h.call(t, "POST", "/endpoints/"+id+"/disable", apiKey, "", http.StatusOK, nil)
		var notice capture
		testkit.WaitFor(t, "the endpoint.disabled notice", func() bool {
			got.mu.Lock()
			defer got.mu.Unlock()
			for _, c := range got.byID {
				if c.webhook.WebhookType() == "endpoint.disabled" {
					notice = c
					return true
				}
			}
			return false
		})
		u, ok := notice.webhook.(*nango.UnknownWebhook)
		if !ok || !bytes.Equal(u.Raw, notice.raw) {
			t.Fatalf("decoded %#v", notice.webhook)
		}
		var body struct {
			From     string `json:"from"`
			Endpoint struct {
				ID, State string
			} `json:"endpoint"`
		}
		if err := json.Unmarshal(u.Raw, &body); err != nil || body.From != "herald" || body.Endpoint.ID != id || body.Endpoint.State != "disabled" {
			t.Errorf("notice %s: %+v, %v", u.Raw, body, err)
		}
	})

	t.Run("herald logs the receiver's refusal", func(t *testing.T) {
		wrongEnvKey, _ := h.newEnv(t, "wrong-key", `{"primary_url":"`+rcv.URL+`/wrong-key","retry":{"max_retries":0}}`)
		var accepted struct {
			Deliveries []struct {
				ID string `json:"id"`
			} `json:"deliveries"`
		}
		h.call(t, "POST", "/events", wrongEnvKey, events[1].body, http.StatusAccepted, &accepted)
		if len(accepted.Deliveries) != 1 {
			t.Fatalf("%d deliveries", len(accepted.Deliveries))
		}
		var d struct {
			Status     string `json:"status"`
			AttemptLog []struct {
				StatusCode   int    `json:"status_code"`
				ResponseBody string `json:"response_body"`
			} `json:"attempt_log"`
		}
		testkit.WaitFor(t, "the delivery to fail", func() bool {
			h.call(t, "GET", "/deliveries/"+accepted.Deliveries[0].ID, wrongEnvKey, "", http.StatusOK, &d)
			return d.Status == "failed"
		})
		if len(d.AttemptLog) != 1 || d.AttemptLog[0].StatusCode != http.StatusUnauthorized ||
			!strings.HasPrefix(d.AttemptLog[0].ResponseBody, "webhook signature does not match") {
			t.Errorf("attempt log %+v", d.AttemptLog)
		}
	})
}
