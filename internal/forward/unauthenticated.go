package forward

// The unauthenticated provider is Nango's catch-all for sources that do not
// sign their webhooks
// (https://github.com/NangoHQ/nango/blob/master/packages/server/lib/webhook/unauthenticated-webhook-routing.ts):
// the body is {"type":…, "connectionId":…, …} and goes to the connection
// its top-level connectionId names. Nothing is verified.
func init() {
	register(&Provider{
		Name:  "unauthenticated",
		Route: unauthenticatedRoute,
	})
}

// unauthenticatedRoute names the connection of the body's connectionId
// string; EventType is the body's type.
func unauthenticatedRoute(_ *Request, payload any) Route {
	rt := Route{EventType: text(get(payload, "type"))}
	v, _ := get(payload, "connectionId")
	if id, _ := v.(string); id != "" {
		rt.ConnectionIDs = []string{id}
	}
	return rt
}
