package forward

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

func TestIntercomVerify(t *testing.T) {
	now := time.Now()
	s := sampleOf(t, "intercom", now)
	secret := s.Credentials["client_secret"]
	r := reqOf(s, now)
	checkSigCases(t, "intercom", []sigCase{
		{name: "sample", req: r, secret: secret},
		{name: "tampered body", req: with(r, tampered(r.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "wrong secret", req: r, secret: "another", want: sigBad, reason: reasonMismatch},
		{name: "sha256 instead of sha1", req: with(r, nil, "X-Hub-Signature", "sha256="+forwardtest.Hex(forwardtest.HMACSHA256(secret, string(r.Body)))), secret: secret, want: sigBad},
		{name: "no prefix", req: with(r, nil, "X-Hub-Signature", forwardtest.Hex(forwardtest.HMACSHA1(secret, string(r.Body)))), secret: secret, want: sigBad},
		{name: "not hex", req: with(r, nil, "X-Hub-Signature", "sha1=nothex"), secret: secret, want: sigBad},
		{name: "no signature", req: with(r, nil, "X-Hub-Signature", ""), secret: secret, want: sigNone},
	})
}

func TestIntercomRoute(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name, body, eventType string
		keys                  []herald.ConnectionKey
	}{
		{
			name:      "notification",
			body:      `{"type":"notification_event","app_id":"ecahpwf5","topic":"contact.user.created","data":{"type":"notification_event_data","item":{"type":"contact","id":"1"}}}`,
			eventType: "contact.user.created",
			keys:      []herald.ConnectionKey{cfgKey("appId", "ecahpwf5")},
		},
		{name: "ping without app", body: `{"type":"notification_event","topic":"ping","data":{"item":{"type":"ping","message":"hi"}}}`, eventType: "ping"},
		{name: "app_id not text", body: `{"app_id":["x"],"topic":3}`, eventType: "3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rt := routeOf(t, "intercom", jsonReq(c.body, now))
			checkKeys(t, rt.Keys, c.keys...)
			if rt.EventType != c.eventType || rt.Answer != nil {
				t.Errorf("EventType = %q, Answer = %v; want %q, nil", rt.EventType, rt.Answer, c.eventType)
			}
		})
	}
}
