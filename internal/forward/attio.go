package forward

import (
	"slices"
	"strings"

	herald "github.com/heraldhq/herald"
)

// Attio signs each webhook with the webhook's secret and sends the hex of
// HMAC-SHA256(secret, raw body) in Attio-Signature, duplicated as
// X-Attio-Signature for legacy middleware
// (https://docs.attio.com/rest-api/guides/webhooks). A delivery is
// {"webhook_id":…, "events":[{"event_type":…, "id":{"workspace_id":…, …}}]}
// (https://docs.attio.com/rest-api/webhook-reference); Nango matches each
// event's id.workspace_id against connection_config.workspace_id.
func init() {
	register(&Provider{
		Name:   "attio",
		Secret: WebhookSecret,
		Verify: attioVerify,
		Route:  attioRoute,
	})
}

// attioVerify accepts the request when either header holds the signature.
func attioVerify(r *Request, secret string) error {
	sigs := slices.Concat(r.Header.Values("Attio-Signature"), r.Header.Values("X-Attio-Signature"))
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	want := macSHA256([]byte(secret), r.Body)
	for _, s := range sigs {
		if equalHex(s, want) {
			return nil
		}
	}
	return Mismatch()
}

// attioRoute gives a connection_config workspace_id key per distinct
// id.workspace_id of the events; EventType is their distinct event_types,
// comma-separated.
func attioRoute(_ *Request, payload any) Route {
	var rt Route
	events, _ := get(payload, "events")
	list, _ := events.([]any)
	workspaces, kinds := map[string]bool{}, map[string]bool{}
	var types []string
	for _, e := range list {
		if id := text(get(e, "id", "workspace_id")); id != "" && !workspaces[id] {
			workspaces[id] = true
			rt.Keys = append(rt.Keys, herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: "workspace_id", Value: id})
		}
		if t := text(get(e, "event_type")); t != "" && !kinds[t] {
			kinds[t] = true
			types = append(types, t)
		}
	}
	rt.EventType = strings.Join(types, ",")
	return rt
}
