package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhq/herald/internal/testkit"
)

// metricsHerald is a herald process started with Run on a SQLite file.
type metricsHerald struct {
	url      string
	adminKey string
}

func startHerald(t *testing.T) *metricsHerald {
	t.Helper()
	return startHeraldOn(t, "sqlite:"+filepath.Join(t.TempDir(), "herald.db"))
}

// startHeraldOn runs a herald process on database until the test ends,
// and waits until it is ready.
func startHeraldOn(t *testing.T, database string) *metricsHerald {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &metricsHerald{url: "http://" + ln.Addr().String(), adminKey: "admin-key-for-metrics"}
	cfg := Config{Database: database, AdminKey: h.adminKey, AllowPrivateURLs: true, ShutdownGrace: time.Second}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, ln, slog.New(slog.DiscardHandler), io.Discard) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	testkit.WaitFor(t, "herald ready", func() bool {
		resp, err := http.Get(h.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return h
}

// call makes one request and decodes a JSON answer into out (when not
// nil); the status must be want.
func (h *metricsHerald) call(t *testing.T, method, path, key string, header map[string]string, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.url+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// newEnv creates an environment and applies settings; it returns its key.
func (h *metricsHerald) newEnv(t *testing.T, name, settings string) string {
	t.Helper()
	var env struct {
		SecretKey string `json:"secret_key"`
	}
	h.call(t, "POST", "/admin/environments", h.adminKey, nil, `{"name":"`+name+`"}`, http.StatusCreated, &env)
	h.call(t, "PATCH", "/environment/webhook", env.SecretKey, nil, settings, http.StatusOK, nil)
	return env.SecretKey
}

func syncEvent(n int) string {
	return fmt.Sprintf(`{"type":"sync","connectionId":"c%d","providerConfigKey":"github","syncName":"issues","model":"Issue",`+
		`"syncType":"INCREMENTAL","success":true,"responseResults":{"added":1,"updated":0,"deleted":0},`+
		`"modifiedAfter":"2026-03-25T19:42:49.717Z"}`, n)
}

const authCreation = `{"type":"auth","connectionId":"c1","providerConfigKey":"github","authMode":"OAUTH2","provider":"github",` +
	`"environment":"prod","operation":"creation","success":true}`

// receiver answers every request with status and counts them.
func receiver(t *testing.T, status int) (string, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hooks", &n
}

// TestMetricsEndToEnd sends known traffic through a whole herald process
// and reads the counts back from GET /metrics, without authentication.
func TestMetricsEndToEnd(t *testing.T) {
	okURL, okHits := receiver(t, http.StatusOK)
	failURL, failHits := receiver(t, http.StatusInternalServerError)
	h := startHerald(t)

	okKey := h.newEnv(t, "ok", `{"primary_url":"`+okURL+`","on_auth_creation":false}`)
	failKey := h.newEnv(t, "fail", `{"primary_url":"`+failURL+`","retry":{"max_retries":0}}`)

	// Three sync events to the receiver that answers 200, one of them sent
	// twice with the same Idempotency-Key: the replay stores nothing.
	h.call(t, "POST", "/events", okKey, nil, syncEvent(1), http.StatusAccepted, nil)
	h.call(t, "POST", "/events", okKey, nil, syncEvent(2), http.StatusAccepted, nil)
	idem := map[string]string{"Idempotency-Key": "sync-3"}
	h.call(t, "POST", "/events", okKey, idem, syncEvent(3), http.StatusAccepted, nil)
	h.call(t, "POST", "/events", okKey, idem, syncEvent(3), http.StatusAccepted, nil)
	// An auth creation event, gated off: stored, skipped, not sent.
	var skipped struct {
		Skipped *string `json:"skipped"`
	}
	h.call(t, "POST", "/events", okKey, nil, authCreation, http.StatusAccepted, &skipped)
	if skipped.Skipped == nil || *skipped.Skipped != "on_auth_creation_disabled" {
		t.Fatalf("auth creation event: skipped = %v, want on_auth_creation_disabled", skipped.Skipped)
	}
	// One sync event to the receiver that answers 500, without retries.
	h.call(t, "POST", "/events", failKey, nil, syncEvent(4), http.StatusAccepted, nil)
	// A request refused before anything is stored counts nowhere.
	h.call(t, "POST", "/events", okKey, nil, `{"type":"sync"}`, http.StatusBadRequest, nil)

	// Wait, bounded, until every delivery is final in the log.
	final := func(key string) (done int) {
		var page struct {
			Data []struct {
				Status string `json:"status"`
			} `json:"data"`
		}
		h.call(t, "GET", "/deliveries", key, nil, "", http.StatusOK, &page)
		for _, d := range page.Data {
			if d.Status == "succeeded" || d.Status == "failed" {
				done++
			}
		}
		return done
	}
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for final(okKey) != 3 || final(failKey) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries not final after 15 s: %d of 3 and %d of 1", final(okKey), final(failKey))
		}
		<-tick.C
	}
	if okHits.Load() != 3 || failHits.Load() != 1 {
		t.Fatalf("receivers got %d and %d requests, want 3 and 1", okHits.Load(), failHits.Load())
	}

	// The lane of a URL closes just after its last outcome is handed on:
	// scrape until it has (the queue gauges read after the deliveries
	// were final, so any scrape shows them at 0).
	var got map[string]*dto.MetricFamily
	for {
		got = scrapeMetrics(t, h.url+"/metrics")
		if value(got, "herald_lanes", nil) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald_lanes = %v after 15 s, want 0", value(got, "herald_lanes", nil))
		}
		<-tick.C
	}

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"herald_events_accepted_total", map[string]string{"type": "sync"}, 4},
		{"herald_events_accepted_total", map[string]string{"type": "auth"}, 1},
		{"herald_events_accepted_total", map[string]string{"type": "async_action"}, 0},
		{"herald_events_accepted_total", map[string]string{"type": "forward"}, 0},
		{"herald_events_skipped_total", map[string]string{"type": "auth", "reason": "on_auth_creation_disabled"}, 1},
		{"herald_attempts_total", map[string]string{"status_class": "2xx"}, 3},
		{"herald_attempts_total", map[string]string{"status_class": "5xx"}, 1},
		{"herald_attempts_total", map[string]string{"status_class": "3xx"}, 0},
		{"herald_attempts_total", map[string]string{"status_class": "4xx"}, 0},
		{"herald_attempts_total", map[string]string{"status_class": "error"}, 0},
		{"herald_deliveries_total", map[string]string{"outcome": "succeeded"}, 3},
		{"herald_deliveries_total", map[string]string{"outcome": "failed"}, 1},
		{"herald_deliveries_total", map[string]string{"outcome": "skipped"}, 0},
		{"herald_deliveries_in_flight", nil, 0},
		{"herald_lanes", nil, 0},
		{"herald_queue_pending_deliveries", nil, 0},
		{"herald_queue_sending_deliveries", nil, 0},
		{"herald_queue_oldest_pending_age_seconds", nil, 0},
		{"herald_queue_stats_errors_total", nil, 0},
	} {
		if v := value(got, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if n := len(got["herald_events_skipped_total"].GetMetric()); n != 1 {
		t.Errorf("herald_events_skipped_total has %d series, want 1", n)
	}
	if h := got["herald_attempt_duration_seconds"].GetMetric(); len(h) != 1 || h[0].GetHistogram().GetSampleCount() != 4 {
		t.Errorf("herald_attempt_duration_seconds = %v, want 4 observations", h)
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if got[name] == nil {
			t.Errorf("%s is missing", name)
		}
	}
}

// scrapeMetrics reads GET /metrics, without credentials, as Prometheus'
// text format.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return families
}

// value is the value of the counter or gauge series of name with exactly
// labels; -1 when there is none.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return -1
}
