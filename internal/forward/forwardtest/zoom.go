package forwardtest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// zoomSecretToken is the app's secret token (Zoom App Marketplace, Feature
// > Event Subscriptions).
const zoomSecretToken = "Wt0bOdLqSSiGLRnmBsqM3A"

// zoomHeader signs body as Zoom does: x-zm-signature: v0=<hex of
// HMAC-SHA256(secret token, "v0:" + timestamp + ":" + raw body)> with
// x-zm-request-timestamp, unix seconds
// (https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events).
func zoomHeader(body []byte, signedAt time.Time) http.Header {
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	return JSONHeader("x-zm-signature", "v0="+Hex(HMACSHA256(zoomSecretToken, "v0:"+ts+":"+string(body))),
		"x-zm-request-timestamp", ts,
		"x-zm-trackingid", "v=2.0;clid=aw1;rid=WEB_8f1c0d7a5e2b4c9a")
}

// A meeting.started event; its payload.account_id routes it to the
// connection whose connection_config.accountId it is. The meeting id, an
// int64 in Zoom's schema, is 9007199254740993, above 2^53, which JSON.parse
// rounds.
func init() {
	register("zoom", func(_ string, signedAt time.Time) Sample {
		const account = "AAAAAABBBB-cCcDdEeFf"
		start := signedAt.UTC().Add(-time.Minute).Format(time.RFC3339)
		body := []byte(`{"event":"meeting.started","event_ts":` + strconv.FormatInt(signedAt.UnixMilli(), 10) + `,` +
			`"payload":{"account_id":"` + account + `","object":{"id":9007199254740993,` +
			`"uuid":"4444AAAiAAAAAiAiAiiAii==","host_id":"x1yCzABCDEfg23HiJKl4mN","topic":"Weekly sync",` +
			`"type":2,"start_time":"` + start + `","timezone":"Europe/Paris","duration":30}}}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		return Sample{
			Provider:         "zoom",
			Credentials:      map[string]string{"webhook_secret": zoomSecretToken},
			Header:           zoomHeader(body, signedAt),
			Body:             body,
			ConnectionConfig: map[string]any{"accountId": account},
			Payload:          payload,
			Timestamped:      true,
		}
	})

	// Zoom's endpoint validation: answered with the plain token and its
	// HMAC-SHA256 under the secret token, in hex
	// (https://developers.zoom.us/docs/api/webhooks/#validate-your-webhook-endpoint).
	registerHandshake("zoom", func(_ string, signedAt time.Time) Handshake {
		const plain = "qgg8vlvZRS6UYooatFL8Aw"
		body := []byte(`{"payload":{"plainToken":"` + plain + `"},"event_ts":` +
			strconv.FormatInt(signedAt.UnixMilli(), 10) + `,"event":"endpoint.url_validation"}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		return Handshake{
			Sample: Sample{
				Provider:    "zoom",
				Credentials: map[string]string{"webhook_secret": zoomSecretToken},
				Header:      zoomHeader(body, signedAt),
				Body:        body,
				Payload:     payload,
				Timestamped: true,
			},
			Status:      200,
			ContentType: "application/json",
			Answer:      []byte(`{"plainToken":"` + plain + `","encryptedToken":"` + Hex(HMACSHA256(zoomSecretToken, plain)) + `"}`),
		}
	})
}
