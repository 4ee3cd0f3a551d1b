package forward

import (
	"strconv"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

func TestStripeVerify(t *testing.T) {
	signedAt := time.Now()
	s := sampleOf(t, "stripe", signedAt)
	secret := s.Credentials["webhook_secret"]
	now := signedAt.Add(time.Second)
	r := reqOf(s, now)
	body := string(r.Body)
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	v1 := forwardtest.Hex(forwardtest.HMACSHA256(secret, ts+"."+body))
	other := forwardtest.Hex(forwardtest.HMACSHA256("whsec_other", ts+"."+body))
	header := func(h string) *Request { return with(r, nil, "Stripe-Signature", h) }
	checkSigCases(t, "stripe", []sigCase{
		{name: "sample (two v1)", req: r, secret: secret},
		{name: "one v1", req: header("t=" + ts + ",v1=" + v1), secret: secret},
		{name: "matching v1 last, with v0", req: header("t=" + ts + ",v1=" + other + ",v0=" + other + ",v1=" + v1), secret: secret},
		{name: "spaces", req: header(" t=" + ts + ", v1=" + v1 + " "), secret: secret},
		{name: "tampered body", req: with(r, tampered(r.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "wrong secret", req: r, secret: "whsec_nope", want: sigBad, reason: reasonMismatch},
		{name: "expired", req: reqOf(s, signedAt.Add(5*time.Minute+time.Second)), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "signed an hour ago", req: reqOf(sampleOf(t, "stripe", signedAt.Add(-time.Hour)), now), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "timestamp changed", req: header("t=" + strconv.FormatInt(signedAt.Unix()+1, 10) + ",v1=" + v1), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "v0 only", req: header("t=" + ts + ",v0=" + v1), secret: secret, want: sigBad},
		{name: "no t", req: header("v1=" + v1), secret: secret, want: sigBad},
		{name: "t not a number", req: header("t=soon,v1=" + v1), secret: secret, want: sigBad},
		{name: "v1 not hex", req: header("t=" + ts + ",v1=zz"), secret: secret, want: sigBad},
		{name: "garbage", req: header(",,,==,"), secret: secret, want: sigBad},
		{name: "no signature", req: header(""), secret: secret, want: sigNone},
	})
}

func TestStripeRoute(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name, body, eventType string
		keys                  []herald.ConnectionKey
	}{
		{
			name:      "connect event",
			body:      `{"id":"evt_1","object":"event","account":"acct_1032D82eZvKYlo2C","type":"customer.created","data":{"object":{"id":"cus_1","object":"customer"}}}`,
			eventType: "customer.created",
			keys:      []herald.ConnectionKey{cfgKey("accountId", "acct_1032D82eZvKYlo2C")},
		},
		{name: "platform event", body: `{"id":"evt_2","object":"event","type":"invoice.paid","data":{"object":{"account":"acct_nested"}}}`, eventType: "invoice.paid"},
		{name: "account not text", body: `{"account":{"id":"acct_1"},"type":"x"}`, eventType: "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rt := routeOf(t, "stripe", jsonReq(c.body, now))
			checkKeys(t, rt.Keys, c.keys...)
			if rt.EventType != c.eventType || rt.Answer != nil {
				t.Errorf("EventType = %q, Answer = %v; want %q, nil", rt.EventType, rt.Answer, c.eventType)
			}
		})
	}
}
