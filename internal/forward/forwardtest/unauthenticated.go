package forwardtest

import (
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// Nango's unauthenticated provider takes unsigned bodies of the form
// {"type":…, "connectionId":…, …}. It routes by connection id, not by
// connection_config: register the connection "conn-1", the body's
// connectionId (ConnectionConfig is nil). data.orderId, 9007199254740993,
// is above 2^53 and JSON.parse rounds it.
func init() {
	register("unauthenticated", func(_ string, signedAt time.Time) Sample {
		body := []byte(`{"type":"order.created","connectionId":"conn-1","createdAt":"` +
			signedAt.UTC().Format(time.RFC3339) + `","data":{"orderId":9007199254740993,"total":"129.90","currency":"EUR",` +
			`"lines":[{"sku":"HRLD-01","quantity":2}]}}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		return Sample{
			Provider: "unauthenticated",
			Header:   JSONHeader(),
			Body:     body,
			Payload:  payload,
		}
	})
}
