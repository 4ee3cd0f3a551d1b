package forward

import (
	"encoding/hex"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

const calendlyTestKey = "zQ4mV8pR1tY6wN3cB7xK0hL5jD9fG2sA4eU8iO1tK6b"

var calendlyTestBody = []byte(`{"created_at":"2026-01-05T10:00:00.000000Z","created_by":"https://api.calendly.com/users/AAAAAAAAAAAAAAAA","event":"invitee.canceled","payload":{"email":"ada.lovelace@example.com","event":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2","name":"Ada Lovelace","rescheduled":false,"status":"canceled","uri":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/BBBBBBBBBBBBBBBB"}}`)

// calendlyHeader is Calendly-Webhook-Signature as Calendly documents it.
func calendlyHeader(key string, at time.Time, body []byte) string {
	t := strconv.FormatInt(at.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(testHMAC([]byte(key), t, ".", string(body)))
}

func TestCalendlyVerify(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 1, 0, time.UTC)
	good := calendlyHeader(calendlyTestKey, now, calendlyTestBody)
	_, v1, _ := strings.Cut(good, ",")
	for _, c := range []struct {
		name   string
		header string
		body   []byte
		key    string
		want   string
	}{
		{"correct", good, calendlyTestBody, calendlyTestKey, "ok"},
		{"signed 4 minutes ago", calendlyHeader(calendlyTestKey, now.Add(-4*time.Minute), calendlyTestBody), calendlyTestBody, calendlyTestKey, "ok"},
		{"signed 6 minutes ago", calendlyHeader(calendlyTestKey, now.Add(-6*time.Minute), calendlyTestBody), calendlyTestBody, calendlyTestKey, "bad"},
		{"signed 6 minutes ahead", calendlyHeader(calendlyTestKey, now.Add(6*time.Minute), calendlyTestBody), calendlyTestBody, calendlyTestKey, "bad"},
		{"tampered body", good, []byte(strings.Replace(string(calendlyTestBody), "canceled", "created", 1)), calendlyTestKey, "bad"},
		{"wrong key", good, calendlyTestBody, "another-key", "bad"},
		{"missing header", "", calendlyTestBody, calendlyTestKey, "none"},
		{"no timestamp", v1, calendlyTestBody, calendlyTestKey, "bad"},
		{"no v1", strings.Split(good, ",")[0], calendlyTestBody, calendlyTestKey, "bad"},
		{"timestamp not a number", "t=soon," + v1, calendlyTestBody, calendlyTestKey, "bad"},
		{"v1 not hex", strings.Split(good, ",")[0] + ",v1=xyz", calendlyTestBody, calendlyTestKey, "bad"},
		{"garbage", "garbage", calendlyTestBody, calendlyTestKey, "bad"},
		{"another v1 first", strings.Split(good, ",")[0] + ",v1=00ff," + v1, calendlyTestBody, calendlyTestKey, "ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pairs []string
			if c.header != "" {
				pairs = []string{"Calendly-Webhook-Signature", c.header}
			}
			r := testRequest("https://herald.example.com/webhook/env-1/calendly", c.body, now, pairs...)
			err := providers["calendly"].Verify(r, c.key)
			verifyOutcome(t, err, c.want)
		})
	}
	// An expired timestamp says so.
	r := testRequest("", calendlyTestBody, now, "Calendly-Webhook-Signature", calendlyHeader(calendlyTestKey, now.Add(-time.Hour), calendlyTestBody))
	if err := providers["calendly"].Verify(r, calendlyTestKey); err == nil || err.Error() != Expired().Error() {
		t.Fatalf("Verify of an hour-old signature = %v, want %v", err, Expired())
	}
}

func TestCalendlyRoute(t *testing.T) {
	owner := herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: "owner", Value: "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"}
	for _, c := range []struct {
		name string
		body string
		want Route
	}{
		{"invitee.canceled", string(calendlyTestBody), Route{Keys: []herald.ConnectionKey{owner}, EventType: "invitee.canceled"}},
		{"no created_by", `{"event":"invitee.created","payload":{}}`, Route{EventType: "invitee.created"}},
		{"created_by not a string", `{"event":"routing_form_submission.created","created_by":{"uri":"x"}}`, Route{EventType: "routing_form_submission.created"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := providers["calendly"].Route(&Request{}, parseJSON(t, []byte(c.body)))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Route = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCalendlySample(t *testing.T) { checkProviderSample(t, "calendly") }
