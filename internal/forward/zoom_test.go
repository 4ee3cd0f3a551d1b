package forward

import (
	"encoding/hex"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

const zoomTestToken = "aB3dE5fG7hJ9kL1mN2pQ4r"

const zoomTestBody = `{"event":"meeting.ended","event_ts":1767607951164,"payload":{"account_id":"AAAAAABBBB-cCcDdEeFf","object":{"id":85746065432,"uuid":"4444AAAiAAAAAiAiAiiAii==","host_id":"x1yCzABCDEfg23HiJKl4mN","topic":"Weekly sync","type":2,"duration":30}}}`

// zoomSigned is body signed by Zoom at at, as Zoom documents it.
func zoomSigned(token string, at time.Time, body string, now time.Time) *Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := "v0=" + hex.EncodeToString(testHMAC([]byte(token), "v0:"+ts+":"+body))
	return testRequest("https://herald.example.com/webhook/env-1/zoom", []byte(body), now,
		"X-Zm-Signature", sig, "X-Zm-Request-Timestamp", ts)
}

func TestZoomVerify(t *testing.T) {
	now := time.Unix(1767607952, 0)
	good := zoomSigned(zoomTestToken, now, zoomTestBody, now)
	with := func(r *Request, edit func(h http.Header)) *Request {
		c := *r
		c.Header = r.Header.Clone()
		edit(c.Header)
		return &c
	}
	tampered := *good
	tampered.Body = []byte(strings.Replace(zoomTestBody, "ended", "started", 1))
	for _, c := range []struct {
		name  string
		r     *Request
		token string
		want  string
	}{
		{"correct", good, zoomTestToken, "ok"},
		{"signed 4 minutes ago", zoomSigned(zoomTestToken, now.Add(-4*time.Minute), zoomTestBody, now), zoomTestToken, "ok"},
		{"expired", zoomSigned(zoomTestToken, now.Add(-6*time.Minute), zoomTestBody, now), zoomTestToken, "bad"},
		{"from the future", zoomSigned(zoomTestToken, now.Add(10*time.Minute), zoomTestBody, now), zoomTestToken, "bad"},
		{"timestamp changed", with(good, func(h http.Header) { h.Set("X-Zm-Request-Timestamp", strconv.FormatInt(now.Unix()-1, 10)) }), zoomTestToken, "bad"},
		{"tampered body", &tampered, zoomTestToken, "bad"},
		{"wrong token", good, "another-token", "bad"},
		{"missing signature", with(good, func(h http.Header) { h.Del("X-Zm-Signature") }), zoomTestToken, "none"},
		{"missing timestamp", with(good, func(h http.Header) { h.Del("X-Zm-Request-Timestamp") }), zoomTestToken, "bad"},
		{"timestamp in milliseconds", with(good, func(h http.Header) { h.Set("X-Zm-Request-Timestamp", strconv.FormatInt(now.UnixMilli(), 10)) }), zoomTestToken, "bad"},
		{"no v0= prefix", with(good, func(h http.Header) { h.Set("X-Zm-Signature", strings.TrimPrefix(h.Get("X-Zm-Signature"), "v0=")) }), zoomTestToken, "bad"},
		{"v1 prefix", with(good, func(h http.Header) { h.Set("X-Zm-Signature", "v1="+strings.TrimPrefix(h.Get("X-Zm-Signature"), "v0=")) }), zoomTestToken, "bad"},
		{"not hex", with(good, func(h http.Header) { h.Set("X-Zm-Signature", "v0=nothex") }), zoomTestToken, "bad"},
	} {
		t.Run(c.name, func(t *testing.T) {
			verifyOutcome(t, providers["zoom"].Verify(c.r, c.token), c.want)
		})
	}
}

func TestZoomURLValidation(t *testing.T) {
	p := providers["zoom"]
	now := time.Unix(1767607952, 0)
	const plain = "qgg8vlvZRS6UYooatFL8Aw"
	body := `{"payload":{"plainToken":"` + plain + `"},"event_ts":1767607951164,"event":"endpoint.url_validation"}`
	r := zoomSigned(zoomTestToken, now, body, now)
	verifyOutcome(t, p.Verify(r, zoomTestToken), "ok")

	a, ok := p.Handshake(r, parseJSON(t, []byte(body)), zoomTestToken)
	want := `{"plainToken":"` + plain + `","encryptedToken":"` + hex.EncodeToString(testHMAC([]byte(zoomTestToken), plain)) + `"}`
	if !ok || a.Status != http.StatusOK || a.ContentType != "application/json" || string(a.Body) != want {
		t.Fatalf("Handshake = %d %q %s, %v; want 200 application/json %s", a.Status, a.ContentType, a.Body, ok, want)
	}

	// Without the secret token there is no answer to make.
	if a, ok := p.Handshake(r, parseJSON(t, []byte(body)), ""); ok {
		t.Fatalf("Handshake without a secret = %+v, want none", a)
	}
	for _, notOne := range []string{
		zoomTestBody,
		`{"event":"endpoint.url_validation","payload":{}}`,
		`{"event":"endpoint.url_validation","payload":{"plainToken":12}}`,
		`{"event":"endpoint.url_validation","payload":"qgg8vlvZRS6UYooatFL8Aw"}`,
		`{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}`,
	} {
		if a, ok := p.Handshake(r, parseJSON(t, []byte(notOne)), zoomTestToken); ok {
			t.Errorf("Handshake(%s) = %+v, want none", notOne, a)
		}
	}
}

func TestZoomRoute(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
		want Route
	}{
		{"meeting.ended", zoomTestBody, Route{
			Keys:      []herald.ConnectionKey{{Field: herald.FieldConnectionConfig, Name: "accountId", Value: "AAAAAABBBB-cCcDdEeFf"}},
			EventType: "meeting.ended"}},
		{"no account_id", `{"event":"endpoint.url_validation","payload":{"plainToken":"x"}}`, Route{EventType: "endpoint.url_validation"}},
		{"account_id at top level only", `{"event":"user.created","account_id":"AAAAAABBBB"}`, Route{EventType: "user.created"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := providers["zoom"].Route(&Request{}, parseJSON(t, []byte(c.body)))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Route = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestZoomSample(t *testing.T) { checkProviderSample(t, "zoom") }
