// Package nango models the webhooks that Nango sends to its customers' apps
// and that herald sends byte for byte the same way: the four bodies (auth,
// sync, async action, forward) as Go types, their validation against Nango's own types, the
// environment settings gates, and the signatures that travel with them.
//
// It serves both ends of the wire. The herald server validates incoming
// events with [ParseWebhook], decides with [Gate] whether to send them, and
// signs the bytes of [Webhook.Canonical] with [SignHMAC], [SignLegacy] and
// [SignStandard]. A receiving app imports the same package to check those
// signatures and decode the body: it works the same for webhooks sent by
// Nango itself.
//
// # Receiving webhooks
//
// A [Verifier] holds the environment's webhook signing key. Its
// [Verifier.Middleware] reads the raw body (bounded by MaxBody), checks
// the strongest signature the request carries — the Standard Webhooks
// headers with their timestamp, else X-Nango-Hmac-Sha256, else the legacy
// X-Nango-Signature — decodes the body with [Decode], and hands the
// webhook to the next handler through the request's context:
//
//	v := &nango.Verifier{Key: os.Getenv("HERALD_WEBHOOK_SIGNING_KEY")}
//	http.Handle("POST /webhooks/nango", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		wh, _ := nango.WebhookFrom(r.Context())
//		switch wh := wh.(type) {
//		case *nango.AuthWebhook:
//			// store wh.ConnectionID when wh.Operation == nango.OperationCreation && wh.Success
//		case *nango.SyncWebhook:
//			// fetch wh.Model records modified after wh.ModifiedAfter
//		case *nango.AsyncActionWebhook:
//			// poll wh.Payload.StatusURL
//		case *nango.ForwardWebhook:
//			// wh.Payload is the provider's own body
//		case *nango.UnknownWebhook:
//			// a type newer than this package: wh.Raw holds the body
//		}
//		w.WriteHeader(http.StatusOK)
//	})))
//
// A refused request is answered 401 (ErrNoSignature, ErrBadSignature,
// ErrTimestampOutOfTolerance), 413 (ErrBodyTooLarge) or 400
// (ErrInvalidBody) and never reaches the next handler; [HTTPStatus] gives
// the same mapping to callers of [Verifier.Verify], which does the same
// work on a request without the middleware. [VerifyHMAC], [VerifyLegacy]
// and [VerifyStandard] check one header each.
//
// Only the Standard Webhooks signature covers a timestamp, so only it
// refuses replayed requests: with the environment's standard_webhooks on,
// set Require to SchemeStandard so that a request whose Standard Webhooks
// headers were stripped is refused rather than checked by its HMAC alone.
//
// # Decoding: lenient and strict
//
// [Decode] is for receivers: it never refuses a verified body that is a
// JSON object with a string "type". An unknown type becomes an
// [UnknownWebhook], and a known type whose fields Nango's types would not
// allow is decoded as far as it goes, because refusing it would only make
// the sender retry in vain. [ParseWebhook] and [FromValue] are the strict
// validators that herald applies to the events it accepts: an unknown type,
// a missing field or a field of the wrong type is a *ValidationError. Both
// keep the fields they do not know in the Extra map of the object that
// holds them (Nango adds fields without notice); [UnknownFields] lists
// them. For a body that ParseWebhook accepts, Decode returns the same
// value.
//
// # Canonical bytes
//
// A webhook is sent as canonical JSON: compact, object keys sorted the way
// Nango's stringifyStable sorts them, strings and numbers written as
// JavaScript's JSON.stringify writes them (see package canonjson). Signatures
// cover exactly those bytes, so [Webhook.Canonical] is the one place where a
// webhook becomes bytes.
package nango
