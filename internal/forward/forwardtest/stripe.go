package forwardtest

import (
	"fmt"
	"strconv"
	"time"
)

// Stripe: a payment_intent.succeeded event of a connected account (a
// Connect event carries the account, https://docs.stripe.com/connect/webhooks),
// pretty-printed as Stripe sends it, signed with the endpoint's secret:
// Stripe-Signature = "t=" + unix seconds + ",v1=" + hex HMAC-SHA256(secret,
// t + "." + body) (https://docs.stripe.com/webhooks#verify-manually). Two v1
// signatures are sent, as while a secret is rolled: one with a retired
// secret, one with the current one.
func init() {
	register("stripe", func(_ string, signedAt time.Time) Sample {
		const (
			secret  = "whsec_5f1c8e3b9a7d2e4f6a0b1c2d3e4f5a6b"
			retired = "whsec_0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"
			account = "acct_1032D82eZvKYlo2C"
		)
		created := signedAt.Add(-time.Second).Unix()
		body := fmt.Sprintf(`{
  "id": "evt_3PqRsT2eZvKYlo2C1aBcDeFg",
  "object": "event",
  "account": %q,
  "api_version": "2024-06-20",
  "created": %d,
  "data": {
    "object": {
      "id": "pi_3PqRsT2eZvKYlo2C1XyZaBcD",
      "object": "payment_intent",
      "amount": 2000,
      "amount_received": 2000,
      "currency": "usd",
      "customer": "cus_QhJkLmNoPqRsTu",
      "description": "Order #1042",
      "livemode": false,
      "metadata": {
        "order_id": "1042"
      },
      "payment_method": "pm_1PqRsT2eZvKYlo2CaBcDeFgH",
      "payment_method_types": [
        "card"
      ],
      "status": "succeeded",
      "created": %d
    }
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": "req_8YzXwVuTsRqPoN",
    "idempotency_key": "6f1e2d3c-4b5a-4697-8a7b-9c8d7e6f5a4b"
  },
  "type": "payment_intent.succeeded"
}`, account, created, created-3)
		t := strconv.FormatInt(signedAt.Unix(), 10)
		sig := "t=" + t +
			",v1=" + Hex(HMACSHA256(secret, t+"."+body)) +
			",v1=" + Hex(HMACSHA256(retired, t+"."+body))
		return Sample{
			Provider:    "stripe",
			Credentials: map[string]string{"webhook_secret": secret},
			Header: JSONHeader(
				"Content-Type", "application/json; charset=utf-8",
				"User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
				"Stripe-Signature", sig,
			),
			Body:             []byte(body),
			ConnectionConfig: map[string]any{"accountId": account},
			Payload:          mustCanonical(body),
			Timestamped:      true,
		}
	})
}
