package forward

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// Standard Webhooks (https://www.standardwebhooks.com, spec:
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
// sends webhook-id, webhook-timestamp (unix seconds) and webhook-signature,
// a space-separated list of "v1,<base64 of HMAC-SHA256(key, id + "." +
// timestamp + "." + raw body)>" entries; the request is genuine when any v1
// entry matches, entries of other versions being ignored. The timestamp is
// checked within DefaultTolerance. The webhook goes to the connection named
// by the body's top-level connectionId, or by the query parameter
// nangoConnectionId of the URL herald is called at.
func init() {
	register(&Provider{
		Name:   "standard-webhooks",
		Secret: WebhookSecret,
		Verify: standardWebhooksVerify,
		Route:  standardWebhooksRoute,
	})
}

// standardWebhooksKey is the HMAC key of a secret: the spec's whsec_<base64>
// form is decoded. A secret without the prefix is decoded as base64 too
// when it is valid base64 (as the spec's libraries do with a bare key);
// otherwise, as for a whsec_ secret whose rest is not base64, its own bytes
// are the key (herald's signing keys, UUIDs, are used that way).
func standardWebhooksKey(secret string) []byte {
	if b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); err == nil && len(b) > 0 {
		return b
	}
	return []byte(secret)
}

func standardWebhooksVerify(r *Request, secret string) error {
	header := r.Header.Get("Webhook-Signature")
	if header == "" {
		return ErrNoSignature
	}
	id, ts := r.Header.Get("Webhook-Id"), r.Header.Get("Webhook-Timestamp")
	if id == "" {
		return Malformed("webhook-id")
	}
	if ts == "" {
		return Malformed("webhook-timestamp")
	}
	if err := checkUnix(ts, r.Now, DefaultTolerance); err != nil {
		return err
	}
	want := macSHA256(standardWebhooksKey(secret), []byte(id+"."+strings.TrimSpace(ts)+"."), r.Body)
	for _, entry := range strings.Fields(header) {
		if version, sig, ok := strings.Cut(entry, ","); ok && version == "v1" && equalBase64(sig, want) {
			return nil
		}
	}
	return Mismatch()
}

// standardWebhooksRoute names the connections of the body's connectionId
// and of the URL's nangoConnectionId (both when they differ); EventType is
// the body's type.
func standardWebhooksRoute(r *Request, payload any) Route {
	rt := Route{EventType: text(get(payload, "type"))}
	add := func(id string) {
		if id != "" && (len(rt.ConnectionIDs) == 0 || rt.ConnectionIDs[0] != id) {
			rt.ConnectionIDs = append(rt.ConnectionIDs, id)
		}
	}
	v, _ := get(payload, "connectionId")
	s, _ := v.(string)
	add(s)
	if u, err := url.Parse(r.URL); err == nil {
		add(u.Query().Get("nangoConnectionId"))
	}
	return rt
}
