package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/nango"
)

// alertBody is the body of an operations event (docs/settings.md).
type alertBody struct {
	From     string `json:"from"`
	Type     string `json:"type"`
	Endpoint struct {
		ID                  string  `json:"id"`
		URL                 string  `json:"url"`
		State               string  `json:"state"`
		DisabledReason      *string `json:"disabled_reason"`
		DisabledAt          *string `json:"disabled_at"`
		ConsecutiveFailures int     `json:"consecutive_failures"`
	} `json:"endpoint"`
	EnvironmentID string `json:"environment_id"`
	CreatedAt     string `json:"created_at"`
}

// Disabling and enabling an endpoint through the API sends
// endpoint.disabled, then endpoint.enabled, to the environment's
// alert_url, signed with its signing key, on both stores. A switch that
// changes nothing sends nothing, and the alert URL is no webhook target:
// no endpoint, no delivery.
func TestEndpointAlerts(t *testing.T) {
	onEachStore(t, options{}, func(t *testing.T, f *fixture) {
		hooks, alerts := newReceiver(t), newReceiver(t)
		alertURL := alerts.URL("/alerts?token=t1")
		env := f.newEnv(t, "prod", map[string]any{"primary_url": hooks.URL("/a"), "alert_url": alertURL})
		eps := endpointsOf(t, f, env)
		ep, ok := eps[hooks.URL("/a")]
		if len(eps) != 1 || !ok {
			t.Fatalf("GET /endpoints = %+v, want the primary URL's only", eps)
		}
		f.do(t, "POST", "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
		waitFor(t, "the webhook", func() bool { return len(hooks.Requests()) == 1 })

		read := func(i int) alertBody {
			t.Helper()
			req := alerts.Requests()[i]
			if !nango.VerifyHMAC(env.SigningKey, req.Body, req.Header.Get(nango.HeaderHMAC)) ||
				!nango.VerifyLegacy(env.SigningKey, req.Body, req.Header.Get(nango.HeaderLegacySignature)) {
				t.Errorf("alert %d is not signed with the environment's key: %v", i, req.Header)
			}
			if req.Header.Get("X-Herald-Delivery-Id") != "" {
				t.Errorf("alert %d came as a delivery: %v", i, req.Header)
			}
			var b alertBody
			if err := json.Unmarshal(req.Body, &b); err != nil {
				t.Fatalf("alert %d: %s: %v", i, req.Body, err)
			}
			if b.From != "herald" || b.EnvironmentID != env.ID || b.Endpoint.ID != ep.ID || b.Endpoint.URL != ep.URL || b.CreatedAt == "" {
				t.Errorf("alert %d: %s", i, req.Body)
			}
			return b
		}

		r := f.do(t, "POST", "/endpoints/"+ep.ID+"/disable", env.SecretKey, nil)
		r.want(t, http.StatusOK)
		var disabled endpointView
		r.decode(t, &disabled)
		waitFor(t, "endpoint.disabled", func() bool { return len(alerts.Requests()) == 1 })
		b := read(0)
		if b.Type != "endpoint.disabled" || b.Endpoint.State != "disabled" || b.Endpoint.DisabledReason == nil ||
			*b.Endpoint.DisabledReason != "manual" || b.Endpoint.DisabledAt == nil || *b.Endpoint.DisabledAt != *disabled.DisabledAt {
			t.Errorf("endpoint.disabled: %s; the API shows %+v", alerts.Requests()[0].Body, disabled)
		}

		// Disabling again changes nothing, and announces nothing: the next
		// alert is the enabling's.
		f.do(t, "POST", "/endpoints/"+ep.ID+"/disable", env.SecretKey, nil).want(t, http.StatusOK)
		f.do(t, "POST", "/endpoints/"+ep.ID+"/enable", env.SecretKey, nil).want(t, http.StatusOK)
		waitFor(t, "endpoint.enabled", func() bool { return len(alerts.Requests()) >= 2 })
		b = read(1)
		if b.Type != "endpoint.enabled" || b.Endpoint.State != "healthy" || b.Endpoint.DisabledReason != nil || b.Endpoint.DisabledAt != nil {
			t.Errorf("endpoint.enabled: %s", alerts.Requests()[1].Body)
		}
		f.do(t, "POST", "/endpoints/"+ep.ID+"/enable", env.SecretKey, nil).want(t, http.StatusOK)
		// A last switch, whose alert is the one after the repeated enable.
		f.do(t, "POST", "/endpoints/"+ep.ID+"/disable", env.SecretKey, nil).want(t, http.StatusOK)
		waitFor(t, "the second endpoint.disabled", func() bool { return len(alerts.Requests()) >= 3 })
		if b := read(2); b.Type != "endpoint.disabled" || len(alerts.Requests()) != 3 {
			t.Errorf("after enabling twice and disabling: %d alerts, the third %s", len(alerts.Requests()), alerts.Requests()[2].Body)
		}

		for _, d := range listDeliveries(t, f, env, "") {
			if d["url"] != hooks.URL("/a") {
				t.Errorf("a delivery to %v", d["url"])
			}
		}
		if eps := endpointsOf(t, f, env); len(eps) != 1 {
			t.Errorf("GET /endpoints = %+v, want the primary URL's only", eps)
		}
	})
}

// alert_url in GET /environment and PATCH /environment/webhook: null by
// default, the URL rules of primary_url, null clears it, and it is stored
// by both stores.
func TestAlertURLSetting(t *testing.T) {
	onEachStore(t, options{}, func(t *testing.T, f *fixture) {
		rc := newReceiver(t)
		env := f.newEnv(t, "prod", nil)
		s := f.getEnvironment(t, env.SecretKey).Settings
		if v, ok := s["alert_url"]; !ok || v != nil {
			t.Fatalf("a new environment's alert_url: %v (present %v), want null", v, ok)
		}
		for _, c := range []struct{ body, mention string }{
			{`{"alert_url":"ftp://alerts.example.com/h"}`, "alert_url"},
			{`{"alert_url":"/relative"}`, "alert_url"},
			{`{"alert_url":5}`, "alert_url"},
			{`{"alert_url":"https://user:pass@alerts.example.com/h"}`, "alert_url"},
			{`{"alert_url":["https://alerts.example.com/h"]}`, "alert_url"},
		} {
			checkError(t, f.do(t, "PATCH", "/environment/webhook", env.SecretKey, c.body), http.StatusBadRequest, "invalid_body", c.mention)
		}
		url := rc.URL("/alerts?token=x")
		r := f.do(t, "PATCH", "/environment/webhook", env.SecretKey, fmt.Sprintf(`{"alert_url":%q}`, url))
		r.want(t, http.StatusOK)
		var patched map[string]any
		r.decode(t, &patched)
		if patched["alert_url"] != url {
			t.Errorf("PATCH answered alert_url %v, want %s", patched["alert_url"], url)
		}
		if got := f.getEnvironment(t, env.SecretKey).Settings["alert_url"]; got != url {
			t.Errorf("GET /environment alert_url %v, want %s", got, url)
		}
		stored, err := f.raw.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Settings.AlertURL == nil || *stored.Settings.AlertURL != url || len(stored.Settings.URLs()) != 0 {
			t.Errorf("stored alert_url %v, webhook URLs %v", stored.Settings.AlertURL, stored.Settings.URLs())
		}
		if eps := endpointsOf(t, f, env); len(eps) != 0 {
			t.Errorf("the alert URL has an endpoint: %+v", eps)
		}
		f.do(t, "PATCH", "/environment/webhook", env.SecretKey, `{"alert_url":null}`).want(t, http.StatusOK)
		if v, ok := f.getEnvironment(t, env.SecretKey).Settings["alert_url"]; !ok || v != nil {
			t.Errorf("after null: alert_url %v", v)
		}
	})
}
