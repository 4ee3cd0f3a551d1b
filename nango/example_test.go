package nango_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/heraldhq/herald/nango"
)

// A receiving app checks X-Nango-Hmac-Sha256 over the raw body before it
// trusts anything in it. (A Verifier does this and more: see
// ExampleVerifier_Middleware.)
func ExampleVerifyHMAC() {
	signingKey := "a3b1c2d4-0000-4000-8000-123456789abc" // the environment's webhook signing key

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if !nango.VerifyHMAC(signingKey, body, r.Header.Get(nango.HeaderHMAC)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		wh, err := nango.Decode(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		connectionID, _ := wh.ConnectionRef()
		fmt.Fprintf(w, "ok %s %s", wh.WebhookType(), connectionID)
	})

	body := `{"connectionId":"c1","from":"nango","payload":{"id":"00000000-0000-0000-0000-000000000000","statusUrl":"/action/00000000-0000-0000-0000-000000000000"},"providerConfigKey":"p","type":"async_action"}`
	send := func(signature string) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/nango", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(nango.HeaderHMAC, signature)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}

	send(nango.SignHMAC(signingKey, []byte(body))) // what herald sends
	send(nango.SignHMAC("some-other-key", []byte(body)))
	// Output:
	// 200 ok async_action c1
	// 401 bad signature
}

// ParseWebhook validates a body strictly, as herald validates the events
// it accepts (a receiver uses Decode), and returns it typed; Canonical
// gives back the exact bytes herald sends, whatever the key order or
// whitespace of the input, with defaults filled in.
func ExampleParseWebhook() {
	body := []byte(`{
		"type": "sync",
		"connectionId": "c1",
		"providerConfigKey": "github",
		"syncName": "issues",
		"model": "Issue",
		"syncType": "INCREMENTAL",
		"success": true,
		"responseResults": {"updated": 2, "added": 10, "deleted": 0},
		"modifiedAfter": "2026-03-25T19:42:49.717Z"
	}`)
	wh, err := nango.ParseWebhook(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	if sync, ok := wh.(*nango.SyncWebhook); ok {
		fmt.Println(sync.Model, sync.ResponseResults.Added, sync.SyncVariant)
	}
	canonical, _ := wh.Canonical()
	fmt.Println(string(canonical))

	_, err = nango.ParseWebhook([]byte(`{"type":"sync","connectionId":""}`))
	fmt.Println(err)
	// Output:
	// Issue 10 base
	// {"connectionId":"c1","from":"nango","model":"Issue","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"github","responseResults":{"added":10,"deleted":0,"updated":2},"success":true,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}
	// connectionId: must not be empty
}
