package forward

import (
	"strconv"
	"strings"
)

// init registers stripe. Stripe signs its events with the endpoint's
// signing secret (credentials.webhook_secret)
// (https://docs.stripe.com/webhooks#verify-manually): Stripe-Signature is
// "t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]", each v1 being the hex
// HMAC-SHA256(secret, t + "." + raw body), several while a secret is
// rolled. A request verifies when any v1 matches and t is within five
// minutes of now; v0 (test-mode SHA-1) is ignored. Stripe has no
// handshake.
//
// Route: a Connect event's account (https://docs.stripe.com/connect/webhooks)
// finds the connections whose connection_config accountId equals it; events
// of the platform's own account have none and route nowhere. EventType is
// the event's type ("payment_intent.succeeded", …).
func init() {
	register(&Provider{
		Name:   "stripe",
		Secret: WebhookSecret,
		Verify: stripeVerify,
		Route:  stripeRoute,
	})
}

func stripeVerify(r *Request, secret string) error {
	header := r.Header.Get("Stripe-Signature")
	if header == "" {
		return ErrNoSignature
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return Malformed("timestamp")
	}
	if len(sigs) == 0 {
		return Malformed("signature")
	}
	want := macSHA256([]byte(secret), []byte(ts+"."), r.Body)
	match := false
	for _, s := range sigs {
		if equalHex(s, want) {
			match = true
		}
	}
	if !match {
		return Mismatch()
	}
	return checkUnix(ts, r.Now, DefaultTolerance)
}

func stripeRoute(_ *Request, payload any) Route {
	return Route{
		Keys:      configKeys(text(get(payload, "account")), "accountId"),
		EventType: text(get(payload, "type")),
	}
}
