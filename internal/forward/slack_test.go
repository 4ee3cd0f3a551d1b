package forward

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

const slackTestSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// slackReq is body signed as Slack documents it, at signedAt, received at
// now.
func slackReq(body, contentType string, signedAt, now time.Time) *Request {
	ts := strconv.FormatInt(signedAt.Unix(), 10)
	return &Request{Method: http.MethodPost, URL: testURL, Now: now, Body: []byte(body), Header: http.Header{
		"Content-Type":              {contentType},
		"X-Slack-Request-Timestamp": {ts},
		"X-Slack-Signature":         {"v0=" + forwardtest.Hex(forwardtest.HMACSHA256(slackTestSecret, "v0:"+ts+":"+body))},
	}}
}

const formType = "application/x-www-form-urlencoded"

func slackForm(payload string) string {
	return url.Values{"payload": {payload}}.Encode()
}

func TestSlackVerify(t *testing.T) {
	signedAt := time.Now()
	now := signedAt.Add(time.Second)
	s := sampleOf(t, "slack", signedAt)
	secret := s.Credentials["webhook_secret"]
	r := reqOf(s, now)
	form := slackReq("token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&command=%2Fweather&text=94070", formType, signedAt, now)
	checkSigCases(t, "slack", []sigCase{
		{name: "sample", req: r, secret: secret},
		{name: "form body", req: form, secret: slackTestSecret},
		{name: "tampered body", req: with(r, tampered(r.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "tampered form", req: with(form, []byte("token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0002&command=%2Fweather&text=94070")), secret: slackTestSecret, want: sigBad},
		{name: "wrong secret", req: r, secret: "another", want: sigBad, reason: reasonMismatch},
		{name: "expired", req: reqOf(s, signedAt.Add(5*time.Minute+2*time.Second)), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "from the future", req: reqOf(s, signedAt.Add(-6*time.Minute)), secret: secret, want: sigBad, reason: reasonExpired},
		{name: "timestamp changed", req: with(r, nil, "X-Slack-Request-Timestamp", strconv.FormatInt(signedAt.Unix()-1, 10)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "no timestamp", req: with(r, nil, "X-Slack-Request-Timestamp", ""), secret: secret, want: sigBad},
		{name: "timestamp not a number", req: with(r, nil, "X-Slack-Request-Timestamp", "now"), secret: secret, want: sigBad},
		{name: "no v0= prefix", req: with(r, nil, "X-Slack-Signature", r.Header.Get("X-Slack-Signature")[3:]), secret: secret, want: sigBad},
		{name: "not hex", req: with(r, nil, "X-Slack-Signature", "v0=xyz"), secret: secret, want: sigBad},
		{name: "empty", req: with(r, nil, "X-Slack-Signature", "v0="), secret: secret, want: sigBad},
		{name: "no signature", req: with(r, nil, "X-Slack-Signature", ""), secret: secret, want: sigNone},
		{name: "nothing", req: jsonReq(`{}`, now), secret: secret, want: sigNone},
	})
}

func TestSlackHandshake(t *testing.T) {
	signedAt := time.Now()
	h := forwardtest.Handshakes()["slack"](testURL, signedAt)
	p, _ := Lookup("slack")
	r := reqOf(h.Sample, signedAt)
	if err := p.Verify(r, h.Credentials["webhook_secret"]); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	payload, err := p.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := p.Handshake(r, payload, h.Credentials["webhook_secret"])
	if !ok {
		t.Fatalf("url_verification not answered")
	}
	if a.Status != h.Status || a.ContentType != h.ContentType || !bytes.Equal(a.Body, h.Answer) {
		t.Errorf("answer = %d %q %q, want %d %q %q", a.Status, a.ContentType, a.Body, h.Status, h.ContentType, h.Answer)
	}
	if a.Status != 200 || a.ContentType != "text/plain; charset=utf-8" || string(a.Body) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("answer = %d %q %q", a.Status, a.ContentType, a.Body)
	}
	// No secret configured: still answered.
	if _, ok := p.Handshake(r, payload, ""); !ok {
		t.Errorf("url_verification not answered without a secret")
	}

	for _, body := range []string{
		`{"type":"event_callback","team_id":"T1","challenge":"x"}`,
		`{"challenge":"x"}`,
		`[{"type":"url_verification"}]`,
		`"url_verification"`,
	} {
		r := jsonReq(body, signedAt)
		payload, _ := p.Parse(r)
		if a, ok := p.Handshake(r, payload, ""); ok {
			t.Errorf("%s answered as a handshake: %+v", body, a)
		}
	}
	// A challenge that is not text gives an empty answer, not a panic.
	a, ok = p.Handshake(r, map[string]any{"type": "url_verification", "challenge": map[string]any{}}, "")
	if !ok || a.Status != 200 || len(a.Body) != 0 || a.ContentType != "" {
		t.Errorf("odd challenge: %+v %v", a, ok)
	}
}

func TestSlackParseAndRoute(t *testing.T) {
	now := time.Now()
	blockActions := `{"type":"block_actions","user":{"id":"U0CA5","username":"amy","team_id":"T3MDE"},"api_app_id":"A0CA5","token":"Shh_its_a_seekrit","container":{"type":"message","message_ts":"1548261231.000200","channel_id":"C12345","is_ephemeral":false},"trigger_id":"12466734323.1395872398","team":{"id":"T9TK3CUKW","domain":"example"},"actions":[{"action_id":"WaXA","block_id":"=qXel","text":{"type":"plain_text","text":"View","emoji":true},"value":"click_me_123","type":"button","action_ts":"1548426417.840180"}]}`
	viewSubmission := `{"type":"view_submission","team":{"id":"T9TK3CUKW","domain":"example"},"user":{"id":"UMAR","username":"Amy","team_id":"T9TK3CUKW"},"view":{"id":"VNHU13V36","type":"modal","state":{"values":{"b":{"a":{"type":"plain_text_input","value":"42"}}}},"callback_id":"modal-identifier"},"api_app_id":"AAABBBCCC","trigger_id":"1234.5678"}`
	cases := []struct {
		name        string
		body        string
		contentType string
		payload     string // canonical JSON forwarded
		keys        []herald.ConnectionKey
		eventType   string
		emptyAnswer bool
	}{
		{
			name:        "event_callback: team_id",
			body:        `{"type":"event_callback","team_id":"T061EG9R6","event":{"type":"app_mention","user":"U1","text":"hi"}}`,
			contentType: "application/json",
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T061EG9R6")},
			eventType:   "event_callback",
		},
		{
			name:        "team_id preferred to team.id",
			body:        `{"type":"shortcut","team_id":"T1","team":{"id":"T2"}}`,
			contentType: "application/json",
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T1")},
			eventType:   "shortcut",
		},
		{
			name:        "empty team_id: team.id",
			body:        `{"type":"shortcut","team_id":"","team":{"id":"T2"}}`,
			contentType: "application/json",
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T2")},
			eventType:   "shortcut",
		},
		{
			name:        "form-encoded payload: team.id",
			body:        slackForm(blockActions),
			contentType: formType,
			payload:     blockActions,
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T9TK3CUKW")},
			eventType:   "block_actions",
		},
		{
			name:        "form-encoded payload with charset",
			body:        slackForm(blockActions),
			contentType: formType + "; charset=utf-8",
			payload:     blockActions,
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T9TK3CUKW")},
			eventType:   "block_actions",
		},
		{
			name:        "view_submission: empty 200",
			body:        slackForm(viewSubmission),
			contentType: formType,
			payload:     viewSubmission,
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T9TK3CUKW")},
			eventType:   "view_submission",
			emptyAnswer: true,
		},
		{
			name:        "slash command: form fields",
			body:        "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&channel_id=C2147483705&user_id=U2147483697&command=%2Fweather&text=94070&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678",
			contentType: formType,
			payload:     `{"channel_id":"C2147483705","command":"/weather","response_url":"https://hooks.slack.com/commands/1234/5678","team_domain":"example","team_id":"T0001","text":"94070","token":"gIkuvaNzQIHg97ATvDxqgjtO","user_id":"U2147483697"}`,
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T0001")},
		},
		{
			name:        "payload field that is not JSON",
			body:        "payload=not+json&team_id=T5",
			contentType: formType,
			payload:     `{"payload":"not json","team_id":"T5"}`,
			keys:        []herald.ConnectionKey{cfgKey("team.id", "T5")},
		},
		{
			name:        "numeric team id",
			body:        `{"type":"event_callback","team":{"id":9007199254740993}}`,
			contentType: "application/json",
			keys:        []herald.ConnectionKey{cfgKey("team.id", "9007199254740992")},
			eventType:   "event_callback",
		},
		{
			name:        "no team",
			body:        `{"type":"app_rate_limited"}`,
			contentType: "application/json",
			eventType:   "app_rate_limited",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := slackReq(c.body, c.contentType, now, now)
			payload, rt := routeOf(t, "slack", r)
			want := c.payload
			if want == "" {
				want = c.body
			}
			wantJSON, err := canonjson.Canonicalize([]byte(want))
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := canonjson.Marshal(payload); !bytes.Equal(got, wantJSON) {
				t.Errorf("payload = %s, want %s", got, wantJSON)
			}
			checkKeys(t, rt.Keys, c.keys...)
			if rt.EventType != c.eventType {
				t.Errorf("EventType = %q, want %q", rt.EventType, c.eventType)
			}
			switch {
			case c.emptyAnswer && (rt.Answer == nil || rt.Answer.Status != 200 || len(rt.Answer.Body) != 0 || rt.Answer.ContentType != ""):
				t.Errorf("Answer = %+v, want an empty 200", rt.Answer)
			case !c.emptyAnswer && rt.Answer != nil:
				t.Errorf("Answer = %+v, want nil", rt.Answer)
			}
			p, _ := Lookup("slack")
			if _, ok := p.Handshake(r, payload, ""); ok {
				t.Errorf("taken for a handshake")
			}
		})
	}
}
