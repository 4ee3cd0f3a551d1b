package nango_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/nango"
)

// The middleware verifies and decodes each webhook before the handler
// runs; the handler takes the webhook from the request's context. A
// request that fails verification never reaches it.
func ExampleVerifier_Middleware() {
	signingKey := "a3b1c2d4-0000-4000-8000-123456789abc" // the environment's webhook_signing_key
	v := &nango.Verifier{Key: signingKey}

	handler := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wh, _ := nango.WebhookFrom(r.Context())
		switch wh := wh.(type) {
		case *nango.SyncWebhook:
			fmt.Fprintf(w, "sync %s: %d added", wh.Model, wh.ResponseResults.Added)
		case *nango.UnknownWebhook:
			fmt.Fprintf(w, "ignored %s", wh.Type)
		default:
			fmt.Fprintf(w, "%s", wh.WebhookType())
		}
	}))

	send := func(body, key string) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/nango", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(nango.HeaderHMAC, nango.SignHMAC(key, []byte(body))) // as herald signs it
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}

	sync := `{"connectionId":"c1","from":"nango","model":"Issue","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"github","responseResults":{"added":3,"deleted":0,"updated":1},"success":true,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`
	send(sync, signingKey)
	send(`{"type":"endpoint.disabled","from":"herald"}`, signingKey)
	send(sync, "some-other-key")
	// Output:
	// 200 sync Issue: 3 added
	// 200 ignored endpoint.disabled
	// 401 webhook signature does not match: X-Nango-Hmac-Sha256
}

// Verify does the middleware's work on one request, for handlers that do
// not use it; its errors are sentinels to test with errors.Is, and
// HTTPStatus gives the status to answer.
func ExampleVerifier_Verify() {
	v := &nango.Verifier{Key: "a3b1c2d4-0000-4000-8000-123456789abc"}
	body := `{"connectionId":"c1","payload":{"id":"a1","statusUrl":"/action/a1"},"providerConfigKey":"p","type":"async_action"}`

	for _, signature := range []string{
		nango.SignHMAC(v.Key, []byte(body)),
		nango.SignHMAC("some-other-key", []byte(body)),
		"",
	} {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/nango", strings.NewReader(body))
		if signature != "" {
			req.Header.Set(nango.HeaderHMAC, signature)
		}
		wh, _, err := v.Verify(req)
		switch {
		case err == nil:
			fmt.Println("ok:", wh.(*nango.AsyncActionWebhook).Payload.StatusURL)
		case errors.Is(err, nango.ErrBadSignature):
			fmt.Println(nango.HTTPStatus(err), "wrong key or altered body")
		case errors.Is(err, nango.ErrNoSignature):
			fmt.Println(nango.HTTPStatus(err), "not signed")
		}
	}
	// Output:
	// ok: /action/a1
	// 401 wrong key or altered body
	// 401 not signed
}

// With the environment's standard_webhooks on, requiring the Standard
// Webhooks signature refuses a request replayed after the tolerance.
func ExampleVerifier_standardWebhooks() {
	signingKey := "a3b1c2d4-0000-4000-8000-123456789abc"
	body := []byte(`{"connectionId":"c1","from":"hubspot","payload":{"objectId":1},"providerConfigKey":"hubspot","type":"forward"}`)
	sentAt := time.Date(2026, 3, 25, 19, 42, 49, 0, time.UTC)

	req := func() *http.Request { // the request as herald sends it
		r := httptest.NewRequest(http.MethodPost, "/webhooks/nango", strings.NewReader(string(body)))
		r.Header.Set(nango.HeaderHMAC, nango.SignHMAC(signingKey, body))
		r.Header.Set(nango.HeaderStandardID, "0195d1a2-7c4e-7b10-9f3a-2e8d4c6b1a90")
		r.Header.Set(nango.HeaderStandardTimestamp, strconv.FormatInt(sentAt.Unix(), 10))
		r.Header.Set(nango.HeaderStandardSignature, nango.SignStandard(signingKey, "0195d1a2-7c4e-7b10-9f3a-2e8d4c6b1a90", sentAt.Unix(), body))
		return r
	}

	for _, now := range []time.Time{sentAt.Add(2 * time.Second), sentAt.Add(time.Hour)} {
		v := &nango.Verifier{
			Key:     signingKey,
			Require: nango.SchemeStandard,
			Now:     func() time.Time { return now }, // time.Now when nil
		}
		wh, _, err := v.Verify(req())
		if err != nil {
			fmt.Println(errors.Is(err, nango.ErrTimestampOutOfTolerance), err)
			continue
		}
		fmt.Println("ok:", wh.WebhookType())
	}
	// Output:
	// ok: forward
	// true nango: webhook timestamp too old
}

// Decode is lenient: a type Nango added after this package was written is
// an *UnknownWebhook rather than an error, and a known type decodes even
// with a field its schema does not allow (here a syncType newer than this
// package), where ParseWebhook, herald's strict validator, refuses it.
func ExampleDecode() {
	for _, body := range []string{
		`{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"creation","success":true,"newField":1}`,
		`{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"PARTIAL","success":true,"responseResults":{"added":1,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`,
		`{"type":"connection.health","connectionId":"c1","status":"degraded"}`,
		`["not","a","webhook"]`,
	} {
		wh, err := nango.Decode([]byte(body))
		if err != nil {
			fmt.Println(errors.Is(err, nango.ErrInvalidBody), err)
			continue
		}
		_, strictErr := nango.ParseWebhook([]byte(body))
		switch wh := wh.(type) {
		case *nango.AuthWebhook:
			fmt.Println("auth", wh.Operation, wh.ConnectionID, "unknown fields:", nango.UnknownFields(wh))
		case *nango.SyncWebhook:
			fmt.Println("sync", wh.SyncType, wh.ResponseResults.Added, "strict:", strictErr)
		case *nango.UnknownWebhook:
			connectionID, _ := wh.ConnectionRef()
			fmt.Printf("unknown %q for %s (body in wh.Raw), strict: %v\n", wh.Type, connectionID, strictErr)
		}
	}
	// Output:
	// auth creation c1 unknown fields: [newField]
	// sync PARTIAL 1 strict: syncType: must be one of ["INITIAL" "INCREMENTAL" "WEBHOOK"]
	// unknown "connection.health" for c1 (body in wh.Raw), strict: type: must be one of ["auth" "sync" "async_action" "forward"]
	// true nango: invalid webhook body: a JSON object is required (got array)
}
