package forwardtest

import (
	"fmt"
	"time"
)

// Linear: an Issue create webhook
// (https://linear.app/developers/webhooks#the-webhook-payload), with the
// workspace's organizationId and webhookTimestamp = signedAt in unix
// milliseconds, signed with the webhook's signing secret: Linear-Signature
// = hex HMAC-SHA256(secret, body)
// (https://linear.app/developers/webhooks#securing-webhooks).
func init() {
	register("linear", func(_ string, signedAt time.Time) Sample {
		const (
			secret = "lin_wh_4b1f3c9e2d7a8b6c5e0f1a2b3c4d5e6f7a8b9c0d"
			org    = "8f3a2c1e-5b7d-4e9f-a0b1-c2d3e4f5a6b7"
		)
		created := signedAt.Add(-time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
		body := fmt.Sprintf(`{"action":"create","actor":{"id":"2e9b7c4d-1a3f-4b5e-8c6d-7e8f9a0b1c2d","name":"Jane Doe","email":"jane@acme.dev","url":"https://linear.app/acme/profiles/jane","type":"user"},`+
			`"createdAt":%q,"data":{"id":"5d1f7b3a-9c2e-4f8a-b6d0-e1f2a3b4c5d6","createdAt":%q,"updatedAt":%q,"number":42,"title":"Webhook deliveries are retried twice","priority":2,"boardOrder":0,"sortOrder":-1026.37,"prioritySortOrder":-1026.37,"slaType":"all",`+
			`"labelIds":["a4c1e7f2-3b5d-4a8c-9e0f-1b2c3d4e5f60"],"teamId":"c7e2a9f4-6b1d-4c3e-8a5f-0d9e8c7b6a5f","previousIdentifiers":[],"creatorId":"2e9b7c4d-1a3f-4b5e-8c6d-7e8f9a0b1c2d","stateId":"f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9","reactionData":[],"priorityLabel":"High","botActor":null,"identifier":"ENG-42",`+
			`"url":"https://linear.app/acme/issue/ENG-42/webhook-deliveries-are-retried-twice","subscriberIds":["2e9b7c4d-1a3f-4b5e-8c6d-7e8f9a0b1c2d"],"state":{"id":"f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9","color":"#e2e2e2","name":"Todo","type":"unstarted"},"team":{"id":"c7e2a9f4-6b1d-4c3e-8a5f-0d9e8c7b6a5f","key":"ENG","name":"Engineering"},"labels":[{"id":"a4c1e7f2-3b5d-4a8c-9e0f-1b2c3d4e5f60","color":"#eb5757","name":"Bug"}],"description":"Seen on the staging cluster."},`+
			`"url":"https://linear.app/acme/issue/ENG-42/webhook-deliveries-are-retried-twice","type":"Issue","organizationId":%q,"webhookTimestamp":%d,"webhookId":"0b9a8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"}`,
			created, created, created, org, signedAt.UnixMilli())
		return Sample{
			Provider:    "linear",
			Credentials: map[string]string{"webhook_secret": secret},
			Header: JSONHeader(
				"Content-Type", "application/json; charset=utf-8",
				"User-Agent", "Linear-Webhook",
				"Linear-Delivery", "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
				"Linear-Event", "Issue",
				"Linear-Signature", Hex(HMACSHA256(secret, body)),
			),
			Body:             []byte(body),
			ConnectionConfig: map[string]any{"organizationId": org},
			Payload:          mustCanonical(body),
			Timestamped:      true,
		}
	})
}
