// Package nango models the webhooks that Nango sends to its customers' apps
// and that herald sends byte for byte the same way: the four bodies (auth,
// sync, async action, forward) as Go types, their validation against Nango's own types, the
// environment settings gates, and the signatures that travel with them.
//
// It serves both ends of the wire. The herald server validates incoming
// events with [ParseWebhook], decides with [Gate] whether to send them, and
// signs the bytes of [Webhook.Canonical] with [SignHMAC], [SignLegacy] and
// [SignStandard]. A receiving app imports the same package to check those
// signatures and decode the body.
//
// # Receiving a webhook
//
// Verify the signature over the raw request body, exactly as it arrived,
// before decoding it; never re-encode the body first:
//
//	func handleNango(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//		if err != nil {
//			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
//			return
//		}
//		if !nango.VerifyHMAC(signingKey, body, r.Header.Get(nango.HeaderHMAC)) {
//			http.Error(w, "bad signature", http.StatusUnauthorized)
//			return
//		}
//		wh, err := nango.ParseWebhook(body)
//		if err != nil {
//			http.Error(w, err.Error(), http.StatusBadRequest)
//			return
//		}
//		switch wh := wh.(type) {
//		case *nango.AuthWebhook:
//			// store wh.ConnectionID when wh.Operation == nango.OperationCreation && wh.Success
//		case *nango.SyncWebhook:
//			// fetch wh.Model records modified after wh.ModifiedAfter
//		case *nango.AsyncActionWebhook:
//			// poll wh.Payload.StatusURL
//		case *nango.ForwardWebhook:
//			// wh.Payload is the provider's own body
//		}
//		w.WriteHeader(http.StatusOK)
//	}
//
// Where the environment sends Standard Webhooks headers, [VerifyStandard]
// checks webhook-signature and also bounds the age of webhook-timestamp,
// which protects against replays.
//
// [ParseWebhook] accepts what Nango's types accept, and keeps a field it
// does not know in the Extra map of the object that holds it (Nango adds
// fields without notice); [UnknownFields] lists them for a caller that
// wants to refuse them.
//
// # Canonical bytes
//
// A webhook is sent as canonical JSON: compact, object keys sorted the way
// Nango's stringifyStable sorts them, strings and numbers written as
// JavaScript's JSON.stringify writes them (see package canonjson). Signatures
// cover exactly those bytes, so [Webhook.Canonical] is the one place where a
// webhook becomes bytes.
package nango
