package forward

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// linearTolerance is how far Linear's webhookTimestamp may be from now.
const linearTolerance = time.Minute

// init registers linear. Linear signs its webhooks with the webhook's
// signing secret (credentials.webhook_secret)
// (https://linear.app/developers/webhooks#securing-webhooks): the
// Linear-Signature header is the hex HMAC-SHA256(secret, raw body), and the
// body's webhookTimestamp (unix milliseconds) must be within a minute of
// now, against replays. Linear has no handshake.
//
// Route, as Nango does: the payload's organizationId finds the connections
// whose connection_config organizationId equals it. EventType is the
// payload's type ("Issue", "Comment", …).
func init() {
	register(&Provider{
		Name:   "linear",
		Secret: WebhookSecret,
		Verify: linearVerify,
		Route:  linearRoute,
	})
}

func linearVerify(r *Request, secret string) error {
	sig := r.Header.Get("Linear-Signature")
	if sig == "" {
		return ErrNoSignature
	}
	if !equalHex(sig, macSHA256([]byte(secret), r.Body)) {
		return Mismatch()
	}
	payload, err := canonjson.Parse(r.Body)
	if err != nil {
		return Malformed("body")
	}
	var ms float64
	switch v, _ := get(payload, "webhookTimestamp"); v := v.(type) {
	case float64:
		ms = v
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return Malformed("webhookTimestamp")
		}
		ms = float64(n)
	default:
		return Malformed("webhookTimestamp")
	}
	// Compared in float64 milliseconds: no conversion of a huge number.
	if math.Abs(float64(r.Now.UnixMilli())-ms) > float64(linearTolerance.Milliseconds()) {
		return Expired()
	}
	return nil
}

func linearRoute(_ *Request, payload any) Route {
	return Route{
		Keys:      configKeys(text(get(payload, "organizationId")), "organizationId"),
		EventType: text(get(payload, "type")),
	}
}
