package forwardtest

import (
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// xeroWebhookKey is the app's webhook key, shown in the Xero developer
// portal.
const xeroWebhookKey = "yPd7Y0cBTh2XhzQ3vq5Y6tW7FQn8HnA9zq1cYbVhXkqL2wFvN4sUeR8aJmT6pK3dZr0oGi5lCx9EuB1yWtQhSg=="

// xeroTenant is the organisation the sample's events are about.
const xeroTenant = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"

// Xero posts a batch of events, signed with x-xero-signature: base64 of
// HMAC-SHA256(webhook key, raw body)
// (https://developer.xero.com/documentation/webhooks/configuring-your-server,
// payload as in https://developer.xero.com/documentation/webhooks/overview).
// Both events are about one tenant, so the sample routes once, to the
// connection whose connection_config.tenant_id is xeroTenant.
func init() {
	register("xero", func(_ string, signedAt time.Time) Sample {
		at := signedAt.UTC().Format("2006-01-02T15:04:05.000")
		body := []byte(`{"events":[` +
			`{"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",` +
			`"resourceId":"717f2bfc-c6d4-41fd-b238-3f2f0c0cf777","eventDateUtc":"` + at + `","eventType":"UPDATE",` +
			`"eventCategory":"INVOICE","tenantId":"` + xeroTenant + `","tenantType":"ORGANISATION"},` +
			`{"resourceUrl":"https://api.xero.com/api.xro/2.0/Contacts/4f8a6d3e-2b1c-4e5f-9a7b-8c6d5e4f3a2b",` +
			`"resourceId":"4f8a6d3e-2b1c-4e5f-9a7b-8c6d5e4f3a2b","eventDateUtc":"` + at + `","eventType":"CREATE",` +
			`"eventCategory":"CONTACT","tenantId":"` + xeroTenant + `","tenantType":"ORGANISATION"}],` +
			`"lastEventSequence":2,"firstEventSequence":1,"entropy":"ZRWBRQDFXTPTTSOXBLTG"}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		return Sample{
			Provider:         "xero",
			Credentials:      map[string]string{"webhook_secret": xeroWebhookKey},
			Header:           JSONHeader("x-xero-signature", Base64(HMACSHA256(xeroWebhookKey, string(body)))),
			Body:             body,
			ConnectionConfig: map[string]any{"tenant_id": xeroTenant},
			Payload:          payload,
		}
	})

	// Xero's intent to receive: a correctly signed request with no events,
	// which must get a 200 with an empty body.
	registerHandshake("xero", func(_ string, _ time.Time) Handshake {
		body := []byte(`{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		return Handshake{
			Sample: Sample{
				Provider:    "xero",
				Credentials: map[string]string{"webhook_secret": xeroWebhookKey},
				Header:      JSONHeader("x-xero-signature", Base64(HMACSHA256(xeroWebhookKey, string(body)))),
				Body:        body,
				Payload:     payload,
			},
			Status: 200,
			Answer: []byte{},
		}
	})
}
