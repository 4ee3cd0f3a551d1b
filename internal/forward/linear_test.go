package forward

import (
	"strconv"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

func TestLinearVerify(t *testing.T) {
	signedAt := time.Now()
	s := sampleOf(t, "linear", signedAt)
	secret := s.Credentials["webhook_secret"]
	r := reqOf(s, signedAt.Add(2*time.Second))
	// signed is body signed with secret as Linear documents it.
	signed := func(body string, now time.Time) *Request {
		return jsonReq(body, now, "Linear-Signature", forwardtest.Hex(forwardtest.HMACSHA256(secret, body)))
	}
	ms := strconv.FormatInt(signedAt.UnixMilli(), 10)
	checkSigCases(t, "linear", []sigCase{
		{name: "sample", req: r, secret: secret},
		{name: "tampered body", req: with(r, tampered(r.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "wrong secret", req: r, secret: "lin_wh_other", want: sigBad, reason: reasonMismatch},
		{name: "webhookTimestamp 61 s old", req: reqOf(s, signedAt.Add(61*time.Second)), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "webhookTimestamp 59 s old", req: reqOf(s, signedAt.Add(59*time.Second)), secret: secret},
		{name: "webhookTimestamp in the future", req: reqOf(s, signedAt.Add(-2*time.Minute)), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "sample signed an hour ago", req: reqOf(sampleOf(t, "linear", signedAt.Add(-time.Hour)), signedAt), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "webhookTimestamp as text", req: signed(`{"type":"Issue","webhookTimestamp":"`+ms+`"}`, signedAt), secret: secret},
		{name: "no webhookTimestamp", req: signed(`{"type":"Issue","organizationId":"o"}`, signedAt), secret: secret, want: sigBad},
		{name: "webhookTimestamp not a number", req: signed(`{"webhookTimestamp":"soon"}`, signedAt), secret: secret, want: sigBad},
		{name: "webhookTimestamp huge", req: signed(`{"webhookTimestamp":1e300}`, signedAt), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "body not JSON", req: signed(`webhookTimestamp=1`, signedAt), secret: secret, want: sigBad},
		{name: "body an array", req: signed(`[1]`, signedAt), secret: secret, want: sigBad},
		{name: "not hex", req: with(r, nil, "Linear-Signature", "sha256=abc"), secret: secret, want: sigBad},
		{name: "no signature", req: with(r, nil, "Linear-Signature", ""), secret: secret, want: sigNone},
	})
}

func TestLinearRoute(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name, body, eventType string
		keys                  []herald.ConnectionKey
	}{
		{
			name:      "issue",
			body:      `{"action":"create","type":"Issue","organizationId":"8f3a2c1e-5b7d-4e9f-a0b1-c2d3e4f5a6b7","data":{"id":"x","organizationId":"nested, not used"},"webhookTimestamp":1}`,
			eventType: "Issue",
			keys:      []herald.ConnectionKey{cfgKey("organizationId", "8f3a2c1e-5b7d-4e9f-a0b1-c2d3e4f5a6b7")},
		},
		{name: "no organization", body: `{"action":"update","type":"Comment"}`, eventType: "Comment"},
		{name: "organization not text", body: `{"type":"Issue","organizationId":{"id":"o"}}`, eventType: "Issue"},
		{name: "array", body: `[{"organizationId":"o"}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rt := routeOf(t, "linear", jsonReq(c.body, now))
			checkKeys(t, rt.Keys, c.keys...)
			if rt.EventType != c.eventType || rt.Answer != nil {
				t.Errorf("EventType = %q, Answer = %v; want %q, nil", rt.EventType, rt.Answer, c.eventType)
			}
		})
	}
}
