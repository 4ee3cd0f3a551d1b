package forward

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// standardWebhooksVector is a case of testdata/standard-webhooks.json.
type standardWebhooksVector struct {
	Name             string `json:"name"`
	SigningKey       string `json:"signing_key"`
	WhsecSecret      string `json:"whsec_secret"`
	WebhookID        string `json:"webhook_id"`
	WebhookTimestamp int64  `json:"webhook_timestamp"`
	Body             string `json:"body"`
	WebhookSignature string `json:"webhook_signature"`
}

func standardWebhooksVectors(t *testing.T) []standardWebhooksVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/standard-webhooks.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []standardWebhooksVector `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no vectors")
	}
	return f.Cases
}

func standardWebhooksRequest(id, ts, sig, body string, now time.Time) *Request {
	var pairs []string
	for _, kv := range [][2]string{{"Webhook-Id", id}, {"Webhook-Timestamp", ts}, {"Webhook-Signature", sig}} {
		if kv[1] != "" {
			pairs = append(pairs, kv[0], kv[1])
		}
	}
	return testRequest("https://herald.example.com/webhook/env-1/standard-webhooks", []byte(body), now, pairs...)
}

func TestStandardWebhooksVectors(t *testing.T) {
	p := providers["standard-webhooks"]
	for _, v := range standardWebhooksVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			now := time.Unix(v.WebhookTimestamp, 0).Add(30 * time.Second)
			ts := strconv.FormatInt(v.WebhookTimestamp, 10)
			r := standardWebhooksRequest(v.WebhookID, ts, v.WebhookSignature, v.Body, now)
			// The whsec_ form, and the bare key (a UUID, not base64: its
			// own bytes are the key).
			verifyOutcome(t, p.Verify(r, v.WhsecSecret), "ok")
			verifyOutcome(t, p.Verify(r, v.SigningKey), "ok")
			// The base64 of the key without the prefix is decoded too.
			verifyOutcome(t, p.Verify(r, strings.TrimPrefix(v.WhsecSecret, "whsec_")), "ok")

			late := *r
			late.Now = time.Unix(v.WebhookTimestamp, 0).Add(6 * time.Minute)
			if err := p.Verify(&late, v.WhsecSecret); err == nil || err.Error() != Expired().Error() {
				t.Fatalf("Verify 6 minutes later = %v, want %v", err, Expired())
			}
		})
	}
}

func TestStandardWebhooksVerify(t *testing.T) {
	p := providers["standard-webhooks"]
	v := standardWebhooksVectors(t)[0]
	now := time.Unix(v.WebhookTimestamp, 0)
	ts := strconv.FormatInt(v.WebhookTimestamp, 10)
	_, sig, _ := strings.Cut(v.WebhookSignature, ",")
	other := "v1," + base64.StdEncoding.EncodeToString(testHMAC([]byte("old-key"), v.WebhookID, ".", ts, ".", v.Body))
	for _, c := range []struct {
		name              string
		id, ts, sig, body string
		secret            string
		want              string
	}{
		{"correct", v.WebhookID, ts, v.WebhookSignature, v.Body, v.WhsecSecret, "ok"},
		{"second of two entries (key rotation)", v.WebhookID, ts, other + " " + v.WebhookSignature, v.Body, v.WhsecSecret, "ok"},
		{"other versions ignored", v.WebhookID, ts, "v1a," + sig + " v2," + sig + " " + v.WebhookSignature, v.Body, v.WhsecSecret, "ok"},
		{"only another version", v.WebhookID, ts, "v1a," + sig, v.Body, v.WhsecSecret, "bad"},
		{"tampered body", v.WebhookID, ts, v.WebhookSignature, strings.Replace(v.Body, "creation", "deletion", 1), v.WhsecSecret, "bad"},
		{"other id", "evt_other", ts, v.WebhookSignature, v.Body, v.WhsecSecret, "bad"},
		{"wrong secret", v.WebhookID, ts, v.WebhookSignature, v.Body, "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key")), "bad"},
		{"expired", v.WebhookID, strconv.FormatInt(v.WebhookTimestamp-301, 10), v.WebhookSignature, v.Body, v.WhsecSecret, "bad"},
		{"missing signature", v.WebhookID, ts, "", v.Body, v.WhsecSecret, "none"},
		{"missing id", "", ts, v.WebhookSignature, v.Body, v.WhsecSecret, "bad"},
		{"missing timestamp", v.WebhookID, "", v.WebhookSignature, v.Body, v.WhsecSecret, "bad"},
		{"timestamp not a number", v.WebhookID, "yesterday", v.WebhookSignature, v.Body, v.WhsecSecret, "bad"},
		{"entry without version", v.WebhookID, ts, sig, v.Body, v.WhsecSecret, "bad"},
		{"empty entry", v.WebhookID, ts, "v1,", v.Body, v.WhsecSecret, "bad"},
		{"not base64", v.WebhookID, ts, "v1,%%%", v.Body, v.WhsecSecret, "bad"},
	} {
		t.Run(c.name, func(t *testing.T) {
			verifyOutcome(t, p.Verify(standardWebhooksRequest(c.id, c.ts, c.sig, c.body, now), c.secret), c.want)
		})
	}
}

func TestStandardWebhooksKey(t *testing.T) {
	for _, c := range []struct{ secret, key string }{
		{"whsec_" + base64.StdEncoding.EncodeToString([]byte("k\x00\xffey")), "k\x00\xffey"},
		{base64.StdEncoding.EncodeToString([]byte("bare base64")), "bare base64"},
		{"a3b1c2d4-0000-4000-8000-123456789abc", "a3b1c2d4-0000-4000-8000-123456789abc"},
		{"whsec_not base64!", "whsec_not base64!"},
		{"whsec_", "whsec_"},
	} {
		if got := string(standardWebhooksKey(c.secret)); got != c.key {
			t.Errorf("standardWebhooksKey(%q) = %q, want %q", c.secret, got, c.key)
		}
	}
}

func TestStandardWebhooksRoute(t *testing.T) {
	const base = "https://herald.example.com/webhook/env-1/standard-webhooks"
	for _, c := range []struct {
		name, url, body string
		want            Route
	}{
		{"connectionId in the body", base, `{"type":"auth","connectionId":"c1","success":true}`, Route{ConnectionIDs: []string{"c1"}, EventType: "auth"}},
		{"nangoConnectionId in the query", base + "?nangoConnectionId=c2", `{"type":"invoice.paid","data":{}}`, Route{ConnectionIDs: []string{"c2"}, EventType: "invoice.paid"}},
		{"both, the same", base + "?nangoConnectionId=c1", `{"type":"auth","connectionId":"c1"}`, Route{ConnectionIDs: []string{"c1"}, EventType: "auth"}},
		{"both, different", base + "?nangoConnectionId=c2&x=1", `{"type":"auth","connectionId":"c1"}`, Route{ConnectionIDs: []string{"c1", "c2"}, EventType: "auth"}},
		{"connectionId not a string", base, `{"type":"sync","connectionId":12}`, Route{EventType: "sync"}},
		{"connectionId nested only", base, `{"type":"sync","data":{"connectionId":"c1"}}`, Route{EventType: "sync"}},
		{"bad URL", "http://[::1", `{"type":"sync","connectionId":"c1"}`, Route{ConnectionIDs: []string{"c1"}, EventType: "sync"}},
		{"nothing", base, `{}`, Route{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := providers["standard-webhooks"].Route(&Request{URL: c.url}, parseJSON(t, []byte(c.body)))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Route = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestStandardWebhooksSample(t *testing.T) { checkProviderSample(t, "standard-webhooks") }
