package forwardtest

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// HubSpot: a contact.propertyChange and a contact.creation event of one
// portal, batched in an array as HubSpot sends them
// (https://developers.hubspot.com/docs/api/webhooks#webhook-payloads),
// signed with the app's client secret both in v1 (X-HubSpot-Signature,
// hex SHA-256 of secret + body) and v3 (X-HubSpot-Signature-v3, base64
// HMAC-SHA256 of POST + URI + body + timestamp in milliseconds)
// (https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests).
// The first event's objectId, 9007199254740993, is above 2^53: it is
// forwarded as JSON.parse rounds it (9007199254740992).
func init() {
	register("hubspot", func(url string, signedAt time.Time) Sample {
		const secret = "3f5c2b1e-8d4a-4c6f-9b7e-a1d2c3e4f5a6"
		ms := signedAt.UnixMilli()
		ts := strconv.FormatInt(ms, 10)
		body := fmt.Sprintf(`[{"eventId":1728356061,"subscriptionId":2461843,"portalId":62515,"appId":1160452,"occurredAt":%d,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":9007199254740993,"propertyName":"email","propertyValue":"jane.doe@example.com","changeSource":"CRM","sourceId":"userId:12345"},`+
			`{"eventId":1728356062,"subscriptionId":2461841,"portalId":62515,"appId":1160452,"occurredAt":%d,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":1251,"changeFlag":"NEW","changeSource":"CRM","sourceId":"userId:12345"}]`,
			ms-2500, ms-3000)
		v1 := sha256.Sum256([]byte(secret + body))
		v3 := HMACSHA256(secret, "POST", hubspotSignedURI(url), body, ts)
		return Sample{
			Provider:    "hubspot",
			Credentials: map[string]string{"client_id": "5a1c9e8f-0b7d-4e2a-8c3f-6d9e0a1b2c3d", "client_secret": secret},
			Header: JSONHeader(
				"User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon-executor",
				"X-HubSpot-Signature", Hex(v1[:]),
				"X-HubSpot-Signature-Version", "v1",
				"X-HubSpot-Signature-v3", Base64(v3),
				"X-HubSpot-Request-Timestamp", ts,
			),
			Body:             []byte(body),
			ConnectionConfig: map[string]any{"portalId": 62515},
			Payload:          mustCanonical(body),
			Timestamped:      true,
		}
	})
}

// hubspotSignedURI decodes, in the URL called, the characters HubSpot's
// documentation lists as decoded before the v3 signature is computed.
func hubspotSignedURI(url string) string {
	for _, p := range [][2]string{
		{"%3A", ":"}, {"%2F", "/"}, {"%3F", "?"}, {"%40", "@"}, {"%21", "!"}, {"%24", "$"},
		{"%27", "'"}, {"%28", "("}, {"%29", ")"}, {"%2A", "*"}, {"%2C", ","}, {"%3B", ";"},
	} {
		url = strings.ReplaceAll(url, p[0], p[1])
	}
	return url
}

// mustCanonical is the canonical JSON of body, which the samples write
// themselves: an error is a bug in a sample.
func mustCanonical(body string) []byte {
	out, err := canonjson.Canonicalize([]byte(body))
	if err != nil {
		panic("forwardtest: sample body is not JSON: " + err.Error())
	}
	return out
}
