package forward

import (
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Zoom signs each webhook with the app's secret token: x-zm-signature:
// v0=<hex of HMAC-SHA256(token, "v0:" + x-zm-request-timestamp + ":" + raw
// body)>, the timestamp in unix seconds, checked within DefaultTolerance.
// Zoom validates the endpoint with an endpoint.url_validation event
// {"payload":{"plainToken":…},"event_ts":…,"event":"endpoint.url_validation"}
// that must be answered {"plainToken":…,"encryptedToken":<hex of
// HMAC-SHA256(token, plainToken)>}
// (https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events,
// https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint).
// Events are {"event":…, "event_ts":…, "payload":{"account_id":…,
// "object":{…}}}; the connection is matched by payload.account_id against
// connection_config.accountId.
func init() {
	register(&Provider{
		Name:      "zoom",
		Secret:    WebhookSecret,
		Verify:    zoomVerify,
		Handshake: zoomHandshake,
		Route:     zoomRoute,
	})
}

func zoomVerify(r *Request, secret string) error {
	header := r.Header.Get("X-Zm-Signature")
	if header == "" {
		return ErrNoSignature
	}
	sig, ok := strings.CutPrefix(strings.TrimSpace(header), "v0=")
	if !ok {
		return Malformed("x-zm-signature")
	}
	ts := r.Header.Get("X-Zm-Request-Timestamp")
	if ts == "" {
		return Malformed("x-zm-request-timestamp")
	}
	if err := checkUnix(ts, r.Now, DefaultTolerance); err != nil {
		return err
	}
	if !equalHex(sig, macSHA256([]byte(secret), []byte("v0:"+ts+":"), r.Body)) {
		return Mismatch()
	}
	return nil
}

// zoomHandshake answers endpoint.url_validation. The answer is made with
// the secret token, so with no secret configured there is nothing to
// answer: the request is not taken as a handshake and goes the usual way
// (logged, forwarded if it routes), and Zoom's validation fails until the
// secret is set.
func zoomHandshake(_ *Request, payload any, secret string) (Answer, bool) {
	if secret == "" || text(get(payload, "event")) != "endpoint.url_validation" {
		return Answer{}, false
	}
	v, _ := get(payload, "payload", "plainToken")
	token, _ := v.(string)
	if token == "" {
		return Answer{}, false
	}
	body, err := json.Marshal(struct {
		PlainToken     string `json:"plainToken"`
		EncryptedToken string `json:"encryptedToken"`
	}{token, hex.EncodeToString(macSHA256([]byte(secret), []byte(token)))})
	if err != nil {
		return Answer{}, false
	}
	return Answer{Status: 200, ContentType: "application/json", Body: body}, true
}

// zoomRoute gives a connection_config accountId key for payload.account_id;
// EventType is event.
func zoomRoute(_ *Request, payload any) Route {
	return Route{
		Keys:      configKeys(text(get(payload, "payload", "account_id")), "accountId"),
		EventType: text(get(payload, "event")),
	}
}
