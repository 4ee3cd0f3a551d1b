package forward

import (
	"strconv"
	"strings"

	"github.com/heraldhq/herald/canonjson"
)

// slackAnswerType is the content type of the url_verification answer.
const slackAnswerType = "text/plain; charset=utf-8"

// init registers slack. Slack signs its requests with the app's signing
// secret (credentials.webhook_secret)
// (https://api.slack.com/authentication/verifying-requests-from-slack):
// X-Slack-Signature is "v0=" + hex HMAC-SHA256(secret, "v0:" +
// X-Slack-Request-Timestamp + ":" + raw body), the timestamp in unix
// seconds, refused when more than five minutes away from now.
//
// Handshake: the Events API's url_verification
// (https://api.slack.com/events/url_verification) is answered 200 with its
// challenge as text/plain.
//
// Parse: interactivity requests are form-encoded with the JSON in their
// payload field (https://api.slack.com/interactivity/handling#payloads);
// that JSON is what is forwarded. Other form bodies (slash commands) are
// forwarded as an object of their fields, JSON bodies as they are.
//
// Route, as Nango does: the payload's team_id, or else its team.id, finds
// the connections whose connection_config has it under the literal key
// "team.id" (Nango stores Slack's token response that way). EventType is
// the payload's type. view_submission payloads are answered with an empty
// 200, as Slack requires to close the modal
// (https://docs.slack.dev/surfaces/modals/#close_current_view).
func init() {
	register(&Provider{
		Name:      "slack",
		Secret:    WebhookSecret,
		Verify:    slackVerify,
		Parse:     slackParse,
		Handshake: slackHandshake,
		Route:     slackRoute,
	})
}

func slackVerify(r *Request, secret string) error {
	sig := r.Header.Get("X-Slack-Signature")
	if sig == "" {
		return ErrNoSignature
	}
	ts := r.Header.Get("X-Slack-Request-Timestamp")
	if _, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64); err != nil {
		return Malformed("timestamp")
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(sig), "v0=")
	if !ok {
		return Malformed("signature")
	}
	want := macSHA256([]byte(secret), []byte("v0:"+ts+":"), r.Body)
	if !equalHex(hexSig, want) {
		return Mismatch()
	}
	return checkUnix(ts, r.Now, DefaultTolerance)
}

func slackParse(r *Request) (any, error) {
	v, err := ParseBody(r)
	if err != nil || !isForm(r) {
		return v, err
	}
	if p, ok := get(v, "payload"); ok {
		if s, isStr := p.(string); isStr {
			if inner, err := canonjson.Parse([]byte(s)); err == nil {
				return inner, nil
			}
		}
	}
	return v, nil
}

func slackHandshake(_ *Request, payload any, _ string) (Answer, bool) {
	if text(get(payload, "type")) != "url_verification" {
		return Answer{}, false
	}
	challenge := text(get(payload, "challenge"))
	if challenge == "" {
		return Answer{Status: 200}, true
	}
	return Answer{Status: 200, ContentType: slackAnswerType, Body: []byte(challenge)}, true
}

func slackRoute(_ *Request, payload any) Route {
	team := text(get(payload, "team_id"))
	if team == "" {
		team = text(get(payload, "team", "id"))
	}
	rt := Route{
		Keys:      configKeys(team, "team.id"),
		EventType: text(get(payload, "type")),
	}
	if rt.EventType == "view_submission" {
		rt.Answer = &Answer{Status: 200}
	}
	return rt
}
