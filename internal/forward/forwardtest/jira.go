package forwardtest

import (
	"strconv"
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// Jira Cloud signs the webhooks an admin registers with a secret:
// X-Hub-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>
// (https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks).
// The body is a jira:issue_updated callback; the origin of its self
// addresses, https://heraldhq.atlassian.net, routes it to the connection
// whose connection_config.baseUrl it is. customfield_10050, a number
// field, holds 9007199254740993, above 2^53, which JSON.parse rounds.
func init() {
	register("jira", func(_ string, signedAt time.Time) Sample {
		const secret = "It6aXnGt0vRj1sZ0Kq3mWb4yPd"
		const site = "https://heraldhq.atlassian.net"
		user := `{"self":"` + site + `/rest/api/2/user?accountId=5b10a2844c20165700ede21g",` +
			`"accountId":"5b10a2844c20165700ede21g","avatarUrls":{"48x48":"https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/default.png"},` +
			`"displayName":"Mia Krystof","active":true,"timeZone":"Europe/Paris","accountType":"atlassian"}`
		body := []byte(`{"timestamp":` + strconv.FormatInt(signedAt.UnixMilli(), 10) + `,"webhookEvent":"jira:issue_updated",` +
			`"issue_event_type_name":"issue_generic","user":` + user + `,` +
			`"issue":{"id":"10002","self":"` + site + `/rest/api/2/10002","key":"HER-3","fields":{` +
			`"summary":"Forward Jira webhooks","issuetype":{"self":"` + site + `/rest/api/2/issuetype/10001","id":"10001","name":"Task","subtask":false},` +
			`"project":{"self":"` + site + `/rest/api/2/project/10000","id":"10000","key":"HER","name":"Herald"},` +
			`"status":{"self":"` + site + `/rest/api/2/status/3","name":"In Progress","id":"3"},` +
			`"customfield_10050":9007199254740993,"created":"2026-01-05T10:12:31.164+0100","updated":"2026-01-06T09:02:11.052+0100"}},` +
			`"changelog":{"id":"10100","items":[{"field":"status","fieldtype":"jira","fieldId":"status",` +
			`"from":"10000","fromString":"To Do","to":"3","toString":"In Progress"}]}}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		return Sample{
			Provider:    "jira",
			Credentials: map[string]string{"webhook_secret": secret},
			Header: JSONHeader("X-Hub-Signature", "sha256="+Hex(HMACSHA256(secret, string(body))),
				"X-Atlassian-Webhook-Identifier", "4f1cbd25-7bd5-4a36-a1c6-4b4d1e1b9f9a",
				"X-Atlassian-Webhook-Flow", "Primary"),
			Body:             body,
			ConnectionConfig: map[string]any{"baseUrl": site},
			Payload:          payload,
		}
	})
}
