package herald_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
)

func parse(t *testing.T, s string) any {
	t.Helper()
	v, err := canonjson.Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

func TestApplySettingsPatchErrors(t *testing.T) {
	tests := []struct {
		body, field string
	}{
		{`[]`, ""},
		{`{}`, ""},
		{`{"nope":true}`, "nope"},
		{`{"on_sync_error":"yes"}`, "on_sync_error"},
		{`{"primary_url":5}`, "primary_url"},
		{`{"primary_url":"ftp://x.test/"}`, "primary_url"},
		{`{"secondary_url":"/relative"}`, "secondary_url"},
		{`{"alert_url":"ftp://x.test/"}`, "alert_url"},
		{`{"alert_url":true}`, "alert_url"},
		{`{"alert_url":"https://u:p@x.test/"}`, "alert_url"},
		{`{"retry":1}`, "retry"},
		{`{"retry":{"max_retries":31}}`, "retry.max_retries"},
		{`{"retry":{"max_retries":1.5}}`, "retry.max_retries"},
		{`{"retry":{"multiplier":0.5}}`, "retry.multiplier"},
		{`{"retry":{"jitter":2}}`, "retry.jitter"},
		{`{"retry":{"what":1}}`, "retry.what"},
		{`{"retry":{"schedule_ms":[1],"max_retries":1}}`, "retry"},
		{`{"retry":{"schedule_ms":"soon"}}`, "retry.schedule_ms"},
		{`{"retry":{"schedule_ms":[1,-1]}}`, "retry.schedule_ms[1]"},
		{`{"retry":{"schedule_ms":[604800000,1]}}`, "retry.schedule_ms"},
		{`{"retry":{"max_retries":30,"initial_delay_ms":86400000,"multiplier":1}}`, "retry"},
		{`{"timeout_ms":999}`, "timeout_ms"},
		{`{"timeout_ms":60001}`, "timeout_ms"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			cur := herald.DefaultSettings()
			_, err := herald.ApplySettingsPatch(cur, parse(t, tt.body))
			var fe *herald.Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *herald.Error", err)
			}
			if fe.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
		})
	}
}

func TestApplySettingsPatch(t *testing.T) {
	cur := herald.DefaultSettings()
	next, err := herald.ApplySettingsPatch(cur, parse(t, `{"primary_url":"https://a.test/h","on_sync_error":false,
		"retry":{"schedule_ms":[5000,300000]},"standard_webhooks":true,"timeout_ms":1000}`))
	if err != nil {
		t.Fatal(err)
	}
	if *next.PrimaryURL != "https://a.test/h" || next.OnSyncError || !next.StandardWebhooks || next.TimeoutMS != 1000 ||
		next.Retry.Retries() != 2 || next.Timeout() != time.Second {
		t.Fatalf("unexpected settings %+v", next)
	}
	// null and "" clear a URL; fields not named stay as they were.
	cleared, err := herald.ApplySettingsPatch(next, parse(t, `{"primary_url":null,"secondary_url":""}`))
	if err != nil {
		t.Fatal(err)
	}
	if cleared.PrimaryURL != nil || cleared.SecondaryURL != nil || cleared.OnSyncError || len(cleared.URLs()) != 0 {
		t.Fatalf("unexpected settings %+v", cleared)
	}
	// alert_url follows the URL rules, is no webhook target, and null
	// clears it.
	alerting, err := herald.ApplySettingsPatch(next, parse(t, `{"alert_url":"https://alerts.test/h?k=1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if alerting.AlertURL == nil || *alerting.AlertURL != "https://alerts.test/h?k=1" || len(alerting.URLs()) != 1 {
		t.Fatalf("after setting alert_url: %+v, URLs %v", alerting, alerting.URLs())
	}
	if unset, err := herald.ApplySettingsPatch(alerting, parse(t, `{"alert_url":null}`)); err != nil || unset.AlertURL != nil {
		t.Fatalf("alert_url null: %+v, %v", unset.AlertURL, err)
	}
	next = alerting
	// The stored form round-trips.
	b, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	var back herald.Settings
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Fatalf("round trip:\n%s\n%s", b, b2)
	}
}

func TestRetryPolicy(t *testing.T) {
	def := herald.DefaultRetryPolicy()
	tests := []struct {
		name       string
		p          herald.RetryPolicy
		n          int
		retryAfter time.Duration
		want       time.Duration
		ok         bool
	}{
		{"default first retry", def, 1, 0, 100 * time.Millisecond, true},
		{"default second retry", def, 2, 0, 200 * time.Millisecond, true},
		{"default exhausted", def, 3, 0, 0, false},
		{"capped", herald.RetryPolicy{MaxRetries: 5, InitialDelayMS: 1000, Multiplier: 10, MaxDelayMS: 5000}, 3, 0, 5 * time.Second, true},
		{"schedule", herald.RetryPolicy{ScheduleMS: []int64{50, 7000}}, 2, 0, 7 * time.Second, true},
		{"schedule exhausted", herald.RetryPolicy{ScheduleMS: []int64{50}}, 2, 0, 0, false},
		{"retry-after longer", def, 1, 3 * time.Second, 3 * time.Second, true},
		{"retry-after shorter", def, 2, time.Millisecond, 200 * time.Millisecond, true},
		{"retry-after capped", herald.RetryPolicy{MaxRetries: 1, InitialDelayMS: 10, Multiplier: 2, MaxDelayMS: 1000}, 1, time.Hour, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.p.NextDelay(tt.n, tt.retryAfter)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("NextDelay(%d, %v) = %v, %v; want %v, %v", tt.n, tt.retryAfter, got, ok, tt.want, tt.ok)
			}
		})
	}
	jittered := herald.RetryPolicy{MaxRetries: 1, InitialDelayMS: 1000, Multiplier: 2, Jitter: 0.5}
	for range 100 {
		d, _ := jittered.NextDelay(1, 0)
		if d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("jittered delay %v outside [500ms, 1s]", d)
		}
	}
}

func TestSigningKeys(t *testing.T) {
	now := time.Now()
	env := herald.Environment{SigningKey: "new", PreviousSigningKey: "old", PreviousKeyExpiresAt: now.Add(time.Hour)}
	if got := strings.Join(env.SigningKeys(now), ","); got != "new,old" {
		t.Fatalf("during grace: %s", got)
	}
	if got := strings.Join(env.SigningKeys(now.Add(2*time.Hour)), ","); got != "new" {
		t.Fatalf("after grace: %s", got)
	}
}

func ExampleApplySettingsPatch() {
	patch, _ := canonjson.Parse([]byte(`{"primary_url":"https://app.example.com/webhooks","retry":{"max_retries":5}}`))
	s, err := herald.ApplySettingsPatch(herald.DefaultSettings(), patch)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(*s.PrimaryURL, s.Retry.Retries(), s.Retry.Delay(3))

	_, err = herald.ApplySettingsPatch(s, map[string]any{"timeout_ms": 100.0})
	fmt.Println(err)
	// Output:
	// https://app.example.com/webhooks 5 400ms
	// timeout_ms: must be between 1000 and 60000
}

// FuzzApplySettingsPatch: any PATCH body is either refused with a
// *herald.Error or yields settings that survive the storage round trip.
func FuzzApplySettingsPatch(f *testing.F) {
	for _, seed := range []string{`{"primary_url":"https://a.test/"}`, `{"retry":{"schedule_ms":[1,2]}}`,
		`{"retry":{"max_retries":3,"jitter":0.5}}`, `{"timeout_ms":1000,"on_sync_error":false}`, `[]`, `{}`, `null`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := canonjson.Parse(body)
		if err != nil {
			return
		}
		s, err := herald.ApplySettingsPatch(herald.DefaultSettings(), v)
		if err != nil {
			var fe *herald.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *herald.Error", err)
			}
			return
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back herald.Settings
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if b2, _ := json.Marshal(back); string(b2) != string(b) {
			t.Fatalf("round trip changed settings:\n%s\n%s", b, b2)
		}
	})
}
