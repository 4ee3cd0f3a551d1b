package forwardtest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// slackSecret is the Slack app's signing secret of the samples.
const slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// slackTeam is the workspace the samples come from.
const slackTeam = "T061EG9R6"

// Slack: an Events API event_callback (a message posted in a channel,
// https://api.slack.com/apis/events-api#callback-field), and the
// url_verification handshake (https://api.slack.com/events/url_verification),
// signed with the app's signing secret: X-Slack-Signature = "v0=" + hex
// HMAC-SHA256(secret, "v0:" + X-Slack-Request-Timestamp + ":" + body)
// (https://api.slack.com/authentication/verifying-requests-from-slack).
// Nango keeps Slack's team id under the literal connection_config key
// "team.id".
func init() {
	register("slack", func(_ string, signedAt time.Time) Sample {
		body := fmt.Sprintf(`{"token":"XXYYZZ","team_id":%q,"context_team_id":%q,"api_app_id":"A0PNCHHK2",`+
			`"event":{"type":"message","channel":"C2147483705","user":"U2147483697","text":"Hello world","ts":"%d.000200","event_ts":"%d.000200","channel_type":"channel","client_msg_id":"5b5bc7fb-6e1f-4a4b-8d33-1f1b2c3d4e5f"},`+
			`"type":"event_callback","event_id":"Ev08MFMKH6","event_time":%d,`+
			`"authorizations":[{"enterprise_id":null,"team_id":%q,"user_id":"U0JD3BPNC","is_bot":true,"is_enterprise_install":false}],`+
			`"is_ext_shared_channel":false,"event_context":"4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMDYxRUc5UjYiLCJhaWQiOiJBMFBOQ0hISzIiLCJjaWQiOiJDMjE0NzQ4MzcwNSJ9"}`,
			slackTeam, slackTeam, signedAt.Unix()-1, signedAt.Unix()-1, signedAt.Unix()-1, slackTeam)
		return slackSample(body, signedAt)
	})
	registerHandshake("slack", func(_ string, signedAt time.Time) Handshake {
		const challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
		s := slackSample(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"`+challenge+`","type":"url_verification"}`, signedAt)
		s.Payload = nil // a handshake is answered, never forwarded
		return Handshake{
			Sample:      s,
			Status:      http.StatusOK,
			ContentType: "text/plain; charset=utf-8",
			Answer:      []byte(challenge),
		}
	})
}

// slackSample signs a JSON body as Slack does at signedAt.
func slackSample(body string, signedAt time.Time) Sample {
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	return Sample{
		Provider:    "slack",
		Credentials: map[string]string{"webhook_secret": slackSecret},
		Header: JSONHeader(
			"User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)",
			"X-Slack-Request-Timestamp", ts,
			"X-Slack-Signature", "v0="+Hex(HMACSHA256(slackSecret, "v0:"+ts+":"+body)),
		),
		Body:             []byte(body),
		ConnectionConfig: map[string]any{"team.id": slackTeam},
		Payload:          mustCanonical(body),
		Timestamped:      true,
	}
}
