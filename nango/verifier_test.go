package nango

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testKey = "a3b1c2d4-0000-4000-8000-123456789abc"

// signed returns the headers herald sends for body under key: the two Nango
// headers and, with standard, the Standard Webhooks ones stamped at ts.
func signed(key string, body []byte, standard bool, ts int64) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderHMAC, SignHMAC(key, body))
	h.Set(HeaderLegacySignature, SignLegacy(key, body))
	if standard {
		h.Set(HeaderStandardID, "evt_1")
		h.Set(HeaderStandardTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderStandardSignature, SignStandard(key, "evt_1", ts, body))
	}
	return h
}

func TestVerifierVerifySignature(t *testing.T) {
	body := []byte(syncSuccess)
	ts := int64(1767225600)
	now := time.Unix(ts, 0)
	all := signed(testKey, body, true, ts)
	with := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	nango := with(all, HeaderStandardID, "", HeaderStandardTimestamp, "", HeaderStandardSignature, "")
	standardOnly := with(all, HeaderHMAC, "", HeaderLegacySignature, "")
	otherHMAC := SignHMAC("other-key", body)
	otherLegacy := SignLegacy("other-key", body)

	tests := []struct {
		name    string
		v       Verifier
		h       http.Header
		checked Scheme
		err     error // nil: accepted
	}{
		{"herald without standard_webhooks", Verifier{Key: testKey}, nango, SchemeHMAC, nil},
		{"herald with standard_webhooks", Verifier{Key: testKey}, all, SchemeStandard, nil},
		{"upper-case hex", Verifier{Key: testKey}, with(nango, HeaderHMAC, strings.ToUpper(SignHMAC(testKey, body))), SchemeHMAC, nil},
		{"legacy only (old Nango)", Verifier{Key: testKey}, with(nango, HeaderHMAC, ""), SchemeLegacy, nil},
		{"legacy upper-case hex", Verifier{Key: testKey}, with(nango, HeaderHMAC, "", HeaderLegacySignature, strings.ToUpper(SignLegacy(testKey, body))), SchemeLegacy, nil},
		{"standard only", Verifier{Key: testKey}, standardOnly, SchemeStandard, nil},
		{"bad legacy ignored beside a good HMAC", Verifier{Key: testKey}, with(nango, HeaderLegacySignature, otherLegacy), SchemeHMAC, nil},
		{"whsec key", Verifier{Key: StandardSecret(testKey)}, all, SchemeStandard, nil},
		{"whsec key, HMAC", Verifier{Key: StandardSecret(testKey)}, nango, SchemeHMAC, nil},
		{"whsec key, legacy", Verifier{Key: StandardSecret(testKey)}, with(nango, HeaderHMAC, ""), SchemeLegacy, nil},
		{"previous key", Verifier{Key: "new-key", PreviousKeys: []string{testKey}}, all, SchemeStandard, nil},
		{"previous key, HMAC", Verifier{Key: "new-key", PreviousKeys: []string{testKey}}, nango, SchemeHMAC, nil},
		{"rotation: two standard entries", Verifier{Key: "new-key"}, with(standardOnly, HeaderStandardSignature, SignStandard("new-key", "evt_1", ts, body)+" "+all.Get(HeaderStandardSignature)), SchemeStandard, nil},
		{"require standard", Verifier{Key: testKey, Require: SchemeStandard}, all, SchemeStandard, nil},
		{"rotation grace: old key in standard, HMAC by the new key", Verifier{Key: testKey}, with(all, HeaderHMAC, SignHMAC("new-key", body), HeaderStandardSignature, SignStandard("new-key", "evt_1", ts, body)+" "+all.Get(HeaderStandardSignature)), SchemeStandard, nil},
		{"bad HMAC beside a good standard: standard decides", Verifier{Key: testKey}, with(all, HeaderHMAC, otherHMAC), SchemeStandard, nil},
		{"require HMAC and standard", Verifier{Key: testKey, Require: SchemeHMAC | SchemeStandard}, all, SchemeHMAC | SchemeStandard, nil},
		{"require legacy checks it beside HMAC", Verifier{Key: testKey, Require: SchemeLegacy}, nango, SchemeHMAC | SchemeLegacy, nil},
		{"tolerance widened", Verifier{Key: testKey, Tolerance: time.Hour}, with(all, HeaderStandardTimestamp, strconv.FormatInt(ts-1800, 10), HeaderStandardSignature, SignStandard(testKey, "evt_1", ts-1800, body)), SchemeStandard, nil},

		{"no signature", Verifier{Key: testKey}, http.Header{}, 0, ErrNoSignature},
		{"only webhook-id and timestamp", Verifier{Key: testKey}, with(standardOnly, HeaderStandardSignature, ""), 0, ErrNoSignature},
		{"require standard, not sent", Verifier{Key: testKey, Require: SchemeStandard}, nango, 0, ErrNoSignature},
		{"require HMAC, legacy only", Verifier{Key: testKey, Require: SchemeHMAC}, with(nango, HeaderHMAC, ""), 0, ErrNoSignature},
		{"wrong key", Verifier{Key: "other-key"}, all, 0, ErrBadSignature},
		{"wrong key, legacy", Verifier{Key: "other-key"}, with(nango, HeaderHMAC, ""), 0, ErrBadSignature},
		{"wrong key, standard", Verifier{Key: "other-key"}, standardOnly, 0, ErrBadSignature},
		{"bad HMAC beside a good legacy: no downgrade", Verifier{Key: testKey}, with(nango, HeaderHMAC, otherHMAC), 0, ErrBadSignature},
		{"require HMAC: bad HMAC beside a good standard", Verifier{Key: testKey, Require: SchemeHMAC}, with(all, HeaderHMAC, otherHMAC), 0, ErrBadSignature},
		{"rotation grace, old key, HMAC required", Verifier{Key: testKey, Require: SchemeHMAC}, with(all, HeaderHMAC, SignHMAC("new-key", body), HeaderStandardSignature, SignStandard("new-key", "evt_1", ts, body)+" "+all.Get(HeaderStandardSignature)), 0, ErrBadSignature},
		{"good HMAC beside a bad standard", Verifier{Key: testKey}, with(all, HeaderStandardSignature, SignStandard("other-key", "evt_1", ts, body)), 0, ErrBadSignature},
		{"required legacy bad", Verifier{Key: testKey, Require: SchemeLegacy}, with(nango, HeaderLegacySignature, otherLegacy), 0, ErrBadSignature},
		{"HMAC not hex", Verifier{Key: testKey}, with(nango, HeaderHMAC, strings.Repeat("zz", 32)), 0, ErrBadSignature},
		{"HMAC with sha256= prefix", Verifier{Key: testKey}, with(nango, HeaderHMAC, "sha256="+SignHMAC(testKey, body)), 0, ErrBadSignature},
		{"standard entry of another version only", Verifier{Key: testKey}, with(standardOnly, HeaderStandardSignature, "v1a,"+all.Get(HeaderStandardSignature)[3:]), 0, ErrNoSignature},
		{"webhook-id missing", Verifier{Key: testKey}, with(all, HeaderStandardID, ""), 0, ErrBadSignature},
		{"webhook-id changed", Verifier{Key: testKey}, with(all, HeaderStandardID, "evt_2"), 0, ErrBadSignature},
		{"webhook-timestamp missing", Verifier{Key: testKey}, with(all, HeaderStandardTimestamp, ""), 0, ErrBadSignature},
		{"webhook-timestamp not an integer", Verifier{Key: testKey}, with(all, HeaderStandardTimestamp, "2026-01-01T00:00:00Z"), 0, ErrBadSignature},
		{"webhook-timestamp changed", Verifier{Key: testKey}, with(all, HeaderStandardTimestamp, strconv.FormatInt(ts+1, 10)), 0, ErrBadSignature},
		{"timestamp too old", Verifier{Key: testKey, Now: func() time.Time { return now.Add(6 * time.Minute) }}, all, 0, ErrTimestampTooOld},
		{"timestamp too new", Verifier{Key: testKey, Now: func() time.Time { return now.Add(-6 * time.Minute) }}, all, 0, ErrTimestampTooNew},
		{"tolerance narrowed", Verifier{Key: testKey, Tolerance: time.Second, Now: func() time.Time { return now.Add(2 * time.Second) }}, all, 0, ErrTimestampOutOfTolerance},
		{"no key", Verifier{}, all, 0, ErrNoKey},
		{"only empty keys", Verifier{PreviousKeys: []string{""}}, all, 0, ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.v.Now == nil {
				tt.v.Now = func() time.Time { return now }
			}
			checked, err := tt.v.VerifySignature(tt.h, body)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if checked != tt.checked {
				t.Errorf("checked %s, want %s", checked, tt.checked)
			}
			if err == nil {
				tampered := bytes.Replace(body, []byte(`"added":1`), []byte(`"added":2`), 1)
				if _, err := tt.v.VerifySignature(tt.h, tampered); err == nil {
					t.Error("the tampered body is accepted")
				}
			}
		})
	}

	// A tampered body fails whichever header decides.
	for _, h := range []http.Header{all, nango, with(nango, HeaderHMAC, ""), standardOnly} {
		v := Verifier{Key: testKey, Now: func() time.Time { return now }}
		tampered := bytes.Replace(body, []byte(`"added":1`), []byte(`"added":2`), 1)
		if _, err := v.VerifySignature(h, tampered); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered body: err = %v, want ErrBadSignature", err)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		err    error
		status int
		is     []error
	}{
		{nil, 200, nil},
		{ErrNoSignature, 401, nil},
		{ErrBadSignature, 401, []error{ErrSignatureMismatch}},
		{ErrTimestampTooOld, 401, []error{ErrTimestampOutOfTolerance}},
		{ErrTimestampTooNew, 401, []error{ErrTimestampOutOfTolerance}},
		{ErrTimestampOutOfTolerance, 401, nil},
		{ErrBodyTooLarge, 413, nil},
		{ErrInvalidBody, 400, nil},
		{ErrNoKey, 500, nil},
		{io.ErrUnexpectedEOF, 400, nil},
	}
	for _, tt := range tests {
		wrapped := tt.err
		if tt.err != nil {
			wrapped = errors.Join(errors.New("context"), tt.err)
		}
		if got := HTTPStatus(wrapped); got != tt.status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tt.err, got, tt.status)
		}
		for _, target := range tt.is {
			if !errors.Is(wrapped, target) {
				t.Errorf("%v does not match %v", tt.err, target)
			}
		}
	}
	if errors.Is(ErrTimestampTooOld, ErrTimestampTooNew) || errors.Is(ErrTimestampOutOfTolerance, ErrTimestampTooOld) {
		t.Error("timestamp errors match too broadly")
	}
	if got := (SchemeHMAC | SchemeStandard).String(); got != "X-Nango-Hmac-Sha256+webhook-signature" {
		t.Errorf("Scheme.String = %q", got)
	}
	if got := Scheme(0).String(); got != "none" {
		t.Errorf("Scheme(0).String = %q", got)
	}
}

// chunked hides a reader's type so that a request built on it has no
// ContentLength.
type chunked struct{ io.Reader }

func TestVerifierVerify(t *testing.T) {
	body := []byte(asyncAction)
	key := testKey
	newRequest := func(b []byte, knownLength bool) *http.Request {
		var r io.Reader = bytes.NewReader(b)
		if !knownLength {
			r = chunked{r}
		}
		req := httptest.NewRequest(http.MethodPost, "/hooks", r)
		req.Header = signed(key, b, false, 0)
		return req
	}
	big := append([]byte(`{"type":"forward","providerConfigKey":"p","payload":"`), bytes.Repeat([]byte("x"), 200)...)
	big = append(big, `"}`...)

	tests := []struct {
		name    string
		v       Verifier
		req     *http.Request
		err     error
		gotType Type
	}{
		{"ok", Verifier{Key: key}, newRequest(body, true), nil, TypeAsyncAction},
		{"ok, no content length", Verifier{Key: key}, newRequest(body, false), nil, TypeAsyncAction},
		{"exactly MaxBody", Verifier{Key: key, MaxBody: int64(len(big))}, newRequest(big, false), nil, TypeForward},
		{"over MaxBody, content length", Verifier{Key: key, MaxBody: int64(len(big)) - 1}, newRequest(big, true), ErrBodyTooLarge, ""},
		{"over MaxBody, no content length", Verifier{Key: key, MaxBody: int64(len(big)) - 1}, newRequest(big, false), ErrBodyTooLarge, ""},
		{"over the default limit", Verifier{Key: key}, newRequest(bytes.Repeat([]byte(" "), DefaultMaxBody+1), false), ErrBodyTooLarge, ""},
		{"no limit", Verifier{Key: key, MaxBody: -1}, newRequest(append(bytes.Repeat([]byte(" "), DefaultMaxBody+1), body...), false), nil, TypeAsyncAction},
		{"unknown type", Verifier{Key: key}, newRequest([]byte(`{"type":"endpoint.enabled","from":"herald"}`), true), nil, "endpoint.enabled"},
		{"signed, not a webhook", Verifier{Key: key}, newRequest([]byte(`[1,2]`), true), ErrInvalidBody, ""},
		{"signed, empty body", Verifier{Key: key}, newRequest(nil, true), ErrInvalidBody, ""},
		{"verified before decoded", Verifier{Key: "other"}, newRequest([]byte(`not json`), true), ErrBadSignature, ""},
		{"no key", Verifier{}, newRequest(body, true), ErrNoKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wh, raw, err := tt.v.Verify(tt.req)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				if wh != nil {
					t.Errorf("webhook %v returned with an error", wh)
				}
				return
			}
			if wh.WebhookType() != tt.gotType {
				t.Errorf("type %q, want %q", wh.WebhookType(), tt.gotType)
			}
			again, _ := io.ReadAll(tt.req.Body)
			if !bytes.Equal(again, raw) || tt.req.ContentLength != int64(len(raw)) {
				t.Errorf("r.Body after Verify = %d bytes (ContentLength %d), want the %d raw bytes", len(again), tt.req.ContentLength, len(raw))
			}
		})
	}
}

// TestMiddleware drives the middleware through a loopback server.
func TestMiddleware(t *testing.T) {
	type seen struct {
		webhook Webhook
		raw     []byte
		body    []byte
		ok      bool
	}
	calls := make(chan seen, 1)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wh, ok1 := WebhookFrom(r.Context())
		raw, ok2 := RawBodyFrom(r.Context())
		body, _ := io.ReadAll(r.Body)
		calls <- seen{wh, raw, body, ok1 && ok2}
		w.WriteHeader(http.StatusNoContent)
	})
	handled := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("/hooks", (&Verifier{Key: testKey, MaxBody: 4096}).Middleware(next))
	mux.Handle("/strict", (&Verifier{Key: testKey, Require: SchemeStandard}).Middleware(next))
	mux.Handle("/custom", (&Verifier{Key: testKey, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		handled <- err
		w.WriteHeader(http.StatusTeapot)
	}}).Middleware(next))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := []byte(authRefresh)
	now := time.Now().Unix()
	tests := []struct {
		name   string
		path   string
		body   []byte
		header http.Header
		status int
		reason string // the start of the plain-text answer
	}{
		{"ok", "/hooks", body, signed(testKey, body, false, 0), 204, ""},
		{"ok with standard", "/strict", body, signed(testKey, body, true, now), 204, ""},
		{"no signature", "/hooks", body, http.Header{}, 401, "no webhook signature"},
		{"standard required", "/strict", body, signed(testKey, body, false, 0), 401, "no webhook signature: webhook-signature required"},
		{"wrong key", "/hooks", body, signed("other", body, false, 0), 401, "webhook signature does not match: X-Nango-Hmac-Sha256"},
		{"old timestamp", "/strict", body, signed(testKey, body, true, now-3600), 401, "webhook timestamp too old"},
		{"too large", "/hooks", bytes.Repeat([]byte(" "), 4097), signed(testKey, bytes.Repeat([]byte(" "), 4097), false, 0), 413, "request body too large"},
		{"too large, chunked", "/hooks", bytes.Repeat([]byte(" "), 1<<20), nil, 413, "request body too large: over the limit of 4096 bytes"},
		{"not a webhook", "/hooks", []byte(`{}`), signed(testKey, []byte(`{}`), false, 0), 400, "invalid webhook body: type is required"},
		{"error handler", "/custom", body, http.Header{}, http.StatusTeapot, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.header == nil { // sent without Content-Length
				body, tt.header = chunked{body}, signed(testKey, tt.body, false, 0)
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, answer, tt.status)
			}
			if !strings.HasPrefix(string(answer), tt.reason) {
				t.Errorf("answer %q, want it to start with %q", answer, tt.reason)
			}
			if tt.status != 204 {
				select {
				case s := <-calls:
					t.Fatalf("next was called with %v", s.webhook)
				default:
				}
				if tt.path == "/custom" {
					if err := <-handled; !errors.Is(err, ErrNoSignature) {
						t.Errorf("ErrorHandler got %v", err)
					}
				}
				return
			}
			s := <-calls // next has answered, so it has sent
			if !s.ok || !bytes.Equal(s.raw, tt.body) || !bytes.Equal(s.body, tt.body) {
				t.Errorf("next saw ok=%v raw %q body %q", s.ok, s.raw, s.body)
			}
			a, isAuth := s.webhook.(*AuthWebhook)
			if !isAuth || a.Operation != OperationRefresh || a.Error.Type != "refresh_token_external_error" {
				t.Errorf("webhook = %#v", s.webhook)
			}
		})
	}

	if _, ok := WebhookFrom(t.Context()); ok {
		t.Error("WebhookFrom found a webhook in a bare context")
	}
	if _, ok := RawBodyFrom(t.Context()); ok {
		t.Error("RawBodyFrom found a body in a bare context")
	}
}
