package forward

import "strings"

// Calendly signs each webhook with the subscription's signing key and sends
// Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex of
// HMAC-SHA256(key, t + "." + raw body)>
// (https://developer.calendly.com/api-docs/4c305798a61d3-webhook-signatures).
// Calendly's example allows three minutes; herald allows DefaultTolerance,
// five. A webhook is {"created_at":…, "created_by":"https://api.calendly.com/users/…",
// "event":"invitee.created", "payload":{…}}, created_by being the URI of
// the subscription's creator
// (https://developer.calendly.com/release-notes/2022/3/6,
// https://developer.calendly.com/api-docs/calendly-api/webhooks/get-sample-webhook-data);
// Nango matches created_by against connection_config.owner.
func init() {
	register(&Provider{
		Name:   "calendly",
		Secret: WebhookSecret,
		Verify: calendlyVerify,
		Route:  calendlyRoute,
	})
}

func calendlyVerify(r *Request, secret string) error {
	header := r.Header.Get("Calendly-Webhook-Signature")
	if header == "" {
		return ErrNoSignature
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case v == "":
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return Malformed("Calendly-Webhook-Signature")
	}
	if err := checkUnix(ts, r.Now, DefaultTolerance); err != nil {
		return err
	}
	want := macSHA256([]byte(secret), []byte(ts), []byte("."), r.Body)
	for _, s := range sigs {
		if equalHex(s, want) {
			return nil
		}
	}
	return Mismatch()
}

// calendlyRoute gives a connection_config owner key for created_by (the
// URI of the user who created the subscription); EventType is event.
func calendlyRoute(_ *Request, payload any) Route {
	return Route{
		Keys:      configKeys(text(get(payload, "created_by")), "owner"),
		EventType: text(get(payload, "event")),
	}
}
