package forwardtest

import (
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// Attio signs each delivery with the webhook's secret: the hex of
// HMAC-SHA256(secret, raw body), sent as Attio-Signature and again as
// X-Attio-Signature (https://docs.attio.com/rest-api/guides/webhooks); the
// body is a record.updated delivery as in
// https://docs.attio.com/rest-api/webhook-reference/record-events/recordupdated.
// It routes to the connection whose connection_config.workspace_id is the
// event's id.workspace_id.
func init() {
	register("attio", func(_ string, _ time.Time) Sample {
		const secret = "9f2c41d07be85a6e3d1f0c8b7a69e54d2c3b1a0f9e8d7c6b5a4f3e2d1c0b9a87"
		const workspace = "14beef7a-99f7-4534-a87e-70b564330a4c"
		body := []byte(`{"webhook_id":"23e42eaf-323a-41da-b5bb-fd67eebda553","events":[{"event_type":"record.updated",` +
			`"id":{"workspace_id":"` + workspace + `","object_id":"97052eb9-e65e-443f-a297-f2d9a4a7f795",` +
			`"record_id":"bf071e1f-6035-429d-b874-d83ea64ea13b","attribute_id":"41252299-f8c7-4b5e-99c9-4ff8321d2f96"},` +
			`"actor":{"type":"workspace-member","id":"50cf242c-7fa3-4cad-87d0-75b1af71c57b"}}]}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		sig := Hex(HMACSHA256(secret, string(body)))
		return Sample{
			Provider:         "attio",
			Credentials:      map[string]string{"webhook_secret": secret},
			Header:           JSONHeader("Attio-Signature", sig, "X-Attio-Signature", sig),
			Body:             body,
			ConnectionConfig: map[string]any{"workspace_id": workspace},
			Payload:          payload,
		}
	})
}
