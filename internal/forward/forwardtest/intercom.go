package forwardtest

import (
	"fmt"
	"time"
)

// Intercom: a conversation.user.created notification_event
// (https://developers.intercom.com/docs/references/webhooks/webhook-models),
// whose app_id is the workspace, signed with the app's client secret:
// X-Hub-Signature = "sha1=" + hex HMAC-SHA1(client secret, body)
// (https://developers.intercom.com/docs/webhooks/setting-up-webhooks,
// "Signed notifications").
func init() {
	register("intercom", func(_ string, signedAt time.Time) Sample {
		const (
			secret = "5c9a1e7b-3d2f-4a8c-b6e0-f1a2b3c4d5e6"
			app    = "ecahpwf5"
		)
		at := signedAt.Add(-time.Second).Unix()
		body := fmt.Sprintf(`{"type":"notification_event","app_id":%q,"data":{"type":"notification_event_data","item":{"type":"conversation","id":"147","created_at":%d,"updated_at":%d,"title":null,"state":"open","open":true,"read":false,"priority":"not_priority","waiting_since":%d,"snoozed_until":null,`+
			`"source":{"type":"conversation","id":"403918311","delivered_as":"customer_initiated","subject":"","body":"<p>Hi, I need help with my order</p>","author":{"type":"user","id":"6762f2d51bb69f9f2193bc2b","name":"Joe Bloggs","email":"joe@example.com"},"attachments":[],"url":null,"redacted":false},`+
			`"contacts":{"type":"contact.list","contacts":[{"type":"contact","id":"6762f2d51bb69f9f2193bc2b","external_id":"70"}]},"admin_assignee_id":null,"team_assignee_id":null,"tags":{"type":"tag.list","tags":[]}}},`+
			`"links":{},"id":"notif_5e2b4f1c-7a3d-4e9f-8b6c-0d1e2f3a4b5c","topic":"conversation.user.created","delivery_status":"pending","delivery_attempts":1,"delivered_at":0,"first_sent_at":%d,"created_at":%d,"self":null}`,
			app, at, at, at, signedAt.Unix(), at)
		return Sample{
			Provider:    "intercom",
			Credentials: map[string]string{"client_id": "2b8f6c1d-4e7a-4c9b-a3d5-e6f7a8b9c0d1", "client_secret": secret},
			Header: JSONHeader(
				"User-Agent", "Intercom-Webhooks-Dispatcher",
				"X-Hub-Signature", "sha1="+Hex(HMACSHA1(secret, body)),
			),
			Body:             []byte(body),
			ConnectionConfig: map[string]any{"appId": app},
			Payload:          mustCanonical(body),
		}
	})
}
