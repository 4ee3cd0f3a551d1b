package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/testkit"
)

// TestAlertsWired: a whole herald process announces an endpoint disabled
// through the API to the environment's alert_url.
func TestAlertsWired(t *testing.T) {
	hooks, alerts := testkit.NewReceiver(t), testkit.NewReceiver(t)
	h := startHerald(t)
	key := h.newEnv(t, "prod", `{"primary_url":"`+hooks.URL("/hooks")+`","alert_url":"`+alerts.URL("/alerts")+`"}`)
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	h.call(t, "GET", "/endpoints", key, nil, "", http.StatusOK, &page)
	if len(page.Data) != 1 {
		t.Fatalf("%d endpoints, want the primary URL's only", len(page.Data))
	}
	h.call(t, "POST", "/endpoints/"+page.Data[0].ID+"/disable", key, nil, "", http.StatusOK, nil)
	testkit.WaitFor(t, "endpoint.disabled", func() bool { return len(alerts.Requests()) == 1 })
	var b struct {
		Type     string `json:"type"`
		Endpoint struct {
			ID string `json:"id"`
		} `json:"endpoint"`
	}
	if err := json.Unmarshal(alerts.Requests()[0].Body, &b); err != nil || b.Type != "endpoint.disabled" || b.Endpoint.ID != page.Data[0].ID {
		t.Errorf("alert %s (%v)", alerts.Requests()[0].Body, err)
	}
	if n := len(hooks.Requests()); n != 0 {
		t.Errorf("the webhook URL got %d requests", n)
	}
}
