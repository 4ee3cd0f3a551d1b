package forward

import (
	"strings"

	herald "github.com/heraldhq/herald"
)

// Xero signs each webhook with the app's webhook key and sends the base64
// of HMAC-SHA256(key, raw body) in x-xero-signature
// (https://developer.xero.com/documentation/webhooks/configuring-your-server).
// Its "intent to receive" check posts {"events":[],…} bodies, correctly and
// wrongly signed: the correctly signed ones must get an empty 200, the
// others a 401. Each event names the organisation it is about in tenantId
// (https://developer.xero.com/documentation/webhooks/overview), which Nango
// matches against connection_config.tenant_id.
func init() {
	register(&Provider{
		Name:      "xero",
		Secret:    WebhookSecret,
		Verify:    xeroVerify,
		Handshake: xeroHandshake,
		Route:     xeroRoute,
	})
}

func xeroVerify(r *Request, secret string) error {
	sig := r.Header.Get("X-Xero-Signature")
	if sig == "" {
		return ErrNoSignature
	}
	if !equalBase64(sig, macSHA256([]byte(secret), r.Body)) {
		return Mismatch()
	}
	return nil
}

// xeroHandshake answers the intent-to-receive requests, whose events array
// is empty, with a 200 and no body, as Xero requires; they carry nothing to
// forward. The answer needs no secret: the signature is checked by Verify
// before, so with a secret configured a wrongly signed request never gets
// here.
func xeroHandshake(_ *Request, payload any, _ string) (Answer, bool) {
	events, ok := get(payload, "events")
	if list, isList := events.([]any); !ok || !isList || len(list) != 0 {
		return Answer{}, false
	}
	return Answer{Status: 200}, true
}

// xeroRoute gives a connection_config tenant_id key per distinct tenantId
// of the events; EventType is their distinct eventTypes, comma-separated.
func xeroRoute(_ *Request, payload any) Route {
	var rt Route
	events, _ := get(payload, "events")
	list, _ := events.([]any)
	tenants, kinds := map[string]bool{}, map[string]bool{}
	var types []string
	for _, e := range list {
		if id := text(get(e, "tenantId")); id != "" && !tenants[id] {
			tenants[id] = true
			rt.Keys = append(rt.Keys, herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: "tenant_id", Value: id})
		}
		if t := text(get(e, "eventType")); t != "" && !kinds[t] {
			kinds[t] = true
			types = append(types, t)
		}
	}
	rt.EventType = strings.Join(types, ",")
	return rt
}
