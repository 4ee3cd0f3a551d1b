package forward

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

const attioTestSecret = "7c1e0f3a9b2d48e6a5f4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f0e1"

func attioBody(events ...string) []byte {
	return []byte(`{"webhook_id":"23e42eaf-323a-41da-b5bb-fd67eebda553","events":[` + strings.Join(events, ",") + `]}`)
}

func attioEvent(kind, workspace string) string {
	return `{"event_type":"` + kind + `","id":{"workspace_id":"` + workspace + `","object_id":"97052eb9-e65e-443f-a297-f2d9a4a7f795","record_id":"bf071e1f-6035-429d-b874-d83ea64ea13b"},"actor":{"type":"workspace-member","id":"50cf242c-7fa3-4cad-87d0-75b1af71c57b"}}`
}

func TestAttioVerify(t *testing.T) {
	body := attioBody(attioEvent("record.created", "14beef7a-99f7-4534-a87e-70b564330a4c"))
	sig := hex.EncodeToString(testHMAC([]byte(attioTestSecret), string(body)))
	other := hex.EncodeToString(testHMAC([]byte("wrong"), string(body)))
	at := func(b []byte, pairs ...string) *Request {
		return testRequest("https://herald.example.com/webhook/env-1/attio", b, time.Now(), pairs...)
	}
	for _, c := range []struct {
		name   string
		r      *Request
		secret string
		want   string
	}{
		{"both headers, as Attio sends them", at(body, "Attio-Signature", sig, "X-Attio-Signature", sig), attioTestSecret, "ok"},
		{"Attio-Signature only", at(body, "Attio-Signature", sig), attioTestSecret, "ok"},
		{"X-Attio-Signature only", at(body, "X-Attio-Signature", sig), attioTestSecret, "ok"},
		{"upper-case hex", at(body, "Attio-Signature", strings.ToUpper(sig)), attioTestSecret, "ok"},
		{"one header wrong, the other right", at(body, "Attio-Signature", other, "X-Attio-Signature", sig), attioTestSecret, "ok"},
		{"tampered body", at([]byte(strings.Replace(string(body), "record.created", "record.deleted", 1)), "Attio-Signature", sig), attioTestSecret, "bad"},
		{"wrong secret", at(body, "Attio-Signature", sig, "X-Attio-Signature", sig), "another-secret", "bad"},
		{"missing headers", at(body), attioTestSecret, "none"},
		{"not hex", at(body, "Attio-Signature", "zz-not-hex"), attioTestSecret, "bad"},
		{"truncated", at(body, "Attio-Signature", sig[:20]), attioTestSecret, "bad"},
	} {
		t.Run(c.name, func(t *testing.T) {
			verifyOutcome(t, providers["attio"].Verify(c.r, c.secret), c.want)
		})
	}
}

func TestAttioRoute(t *testing.T) {
	const w1, w2 = "14beef7a-99f7-4534-a87e-70b564330a4c", "8a7e6c1d-4b3f-4f2e-9d8c-7b6a5f4e3d2c"
	key := func(v string) herald.ConnectionKey {
		return herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: "workspace_id", Value: v}
	}
	for _, c := range []struct {
		name string
		body []byte
		want Route
	}{
		{"one event", attioBody(attioEvent("record.updated", w1)),
			Route{Keys: []herald.ConnectionKey{key(w1)}, EventType: "record.updated"}},
		{"batched events, deduplicated", attioBody(attioEvent("record.created", w1), attioEvent("note.created", w2), attioEvent("record.created", w1)),
			Route{Keys: []herald.ConnectionKey{key(w1), key(w2)}, EventType: "record.created,note.created"}},
		{"no workspace_id", attioBody(`{"event_type":"task.created","id":{"task_id":"x"}}`), Route{EventType: "task.created"}},
		{"no events", attioBody(), Route{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := providers["attio"].Route(&Request{}, parseJSON(t, c.body))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Route = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestAttioSample(t *testing.T) { checkProviderSample(t, "attio") }
