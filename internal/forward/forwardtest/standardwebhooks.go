package forwardtest

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// A Standard Webhooks sender (https://www.standardwebhooks.com) signs with
// the key whose whsec_ form is the secret: webhook-signature:
// v1,<base64 of HMAC-SHA256(key, webhook-id + "." + webhook-timestamp +
// "." + raw body)>, the timestamp in unix seconds. The sample's header
// lists a signature of another scheme version first, which is ignored.
//
// It routes by connection id, not by connection_config: register the
// connection "conn-1", the body's connectionId (ConnectionConfig is nil).
// data.sequence, 9007199254740993, is above 2^53 and JSON.parse rounds it.
func init() {
	register("standard-webhooks", func(_ string, signedAt time.Time) Sample {
		key := "herald-standard-webhooks-sample-key-01"
		secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(key))
		const id = "msg_2Lh9KRb0pzN4LePd3XiA4oUXwXy"
		ts := strconv.FormatInt(signedAt.Unix(), 10)
		body := []byte(`{"type":"invoice.paid","timestamp":"` + signedAt.UTC().Format("2006-01-02T15:04:05.000Z") + `",` +
			`"connectionId":"conn-1","data":{"id":"in_1PqZxR2eZvKYlo2C","amount_paid":4200,"currency":"eur",` +
			`"customer":"cus_Qf7YhZ1bXv","sequence":9007199254740993,"paid":true}}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		sig := Base64(HMACSHA256(key, id+"."+ts+"."+string(body)))
		return Sample{
			Provider:    "standard-webhooks",
			Credentials: map[string]string{"webhook_secret": secret},
			Header: JSONHeader("webhook-id", id, "webhook-timestamp", ts,
				"webhook-signature", "v1a,aGVyYWxkLWlnbm9yZXMtdGhpcy1lbnRyeQ== v1,"+sig),
			Body:        body,
			Payload:     payload,
			Timestamped: true,
		}
	})
}
