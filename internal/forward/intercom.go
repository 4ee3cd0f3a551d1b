package forward

import "strings"

// init registers intercom. Intercom signs its webhook notifications with
// the app's client secret
// (https://developers.intercom.com/docs/webhooks/setting-up-webhooks,
// "Signed notifications"; payloads:
// https://developers.intercom.com/docs/references/webhooks/webhook-models):
// X-Hub-Signature is "sha1=" + hex HMAC-SHA1(client secret, raw body).
// Intercom has no handshake: its ping topic is a signed notification like
// any other.
//
// Route: the notification's app_id (the workspace) finds the connections
// whose connection_config appId equals it. EventType is the notification's
// topic ("conversation.user.created", …).
func init() {
	register(&Provider{
		Name:   "intercom",
		Secret: ClientSecret,
		Verify: intercomVerify,
		Route:  intercomRoute,
	})
}

func intercomVerify(r *Request, secret string) error {
	sig := r.Header.Get("X-Hub-Signature")
	if sig == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(sig), "sha1=")
	if !ok {
		return Malformed("signature")
	}
	if !equalHex(hexSig, macSHA1([]byte(secret), r.Body)) {
		return Mismatch()
	}
	return nil
}

func intercomRoute(_ *Request, payload any) Route {
	return Route{
		Keys:      configKeys(text(get(payload, "app_id")), "appId"),
		EventType: text(get(payload, "topic")),
	}
}
