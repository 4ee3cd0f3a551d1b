package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/dispatch"
)

// syncBuffer is a log destination the test reads while the dispatcher
// writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A delivery whose first attempt breaks off, whose second gets a 500 and
// whose third succeeds logs two failed attempts (with their next time)
// and its success, with its ids, and never the signing key, the body, the
// response or the URL's query.
func TestOutcomeLog(t *testing.T) {
	const querySecret = "q-secret-7d1c"
	const responseSecret = "response-secret-91ab"
	var hits atomic.Int64
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		body.Store(b.String())
		switch hits.Add(1) {
		case 1:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		case 2:
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(responseSecret))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	url := srv.URL + "/hooks/in?token=" + querySecret
	f := start(t, dispatch.Config{Logger: log}, url)
	f.post(t, 1)
	waitFor(t, "succeeded", func() bool { return f.count(t, herald.StatusSucceeded, "") == 1 })
	waitFor(t, "success logged", func() bool { return strings.Contains(logs.String(), `"delivery succeeded"`) })
	f.stop()

	ds, err := f.store.ListDeliveries(context.Background(), f.env.ID, herald.DeliveryFilter{Limit: 1})
	if err != nil || len(ds) != 1 {
		t.Fatalf("ListDeliveries: %v, %v", ds, err)
	}
	d := ds[0]
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["delivery_id"] == d.ID {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d log lines of the delivery, want 3:\n%s", len(lines), logs.String())
	}
	safeURL := srv.URL + "/hooks/in"
	for i, l := range lines {
		if l["event_id"] != d.EventID || l["environment_id"] != f.env.ID || l["url"] != safeURL {
			t.Errorf("line %d: ids or url wrong: %v", i, l)
		}
	}
	for i, l := range lines[:2] {
		if l["level"] != "WARN" || l["msg"] != "attempt failed" || l["attempt"] != float64(i+1) {
			t.Errorf("line %d: want the warning of attempt %d: %v", i, i+1, l)
		}
		if next, _ := l["next_attempt_at"].(string); next == "" || next == "final" {
			t.Errorf("line %d: next_attempt_at %q, want a time", i, next)
		}
	}
	if _, ok := lines[0]["error"].(string); !ok {
		t.Errorf("first attempt's line has no error: %v", lines[0])
	}
	if lines[1]["status_code"] != float64(500) {
		t.Errorf("second attempt's line: status_code %v, want 500", lines[1]["status_code"])
	}
	if l := lines[2]; l["level"] != "INFO" || l["msg"] != "delivery succeeded" || l["attempts"] != float64(3) {
		t.Errorf("last line: want the success after 3 attempts: %v", l)
	}
	sent, _ := body.Load().(string)
	all := logs.String()
	for name, secret := range map[string]string{"signing key": f.env.SigningKey, "URL query": querySecret,
		"response body": responseSecret, "body": sent} {
		if secret == "" {
			t.Fatalf("no %s to look for", name)
		}
		if strings.Contains(all, secret) {
			t.Errorf("the log holds the %s %q:\n%s", name, secret, all)
		}
	}
}

// A delivery that runs out of retries logs its last attempt as final and
// its failure.
func TestOutcomeLogFinal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not 410 Gone, which disables the endpoint (its retries held).
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	var logs syncBuffer
	f := start(t, dispatch.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, srv.URL)
	f.post(t, 1)
	waitFor(t, "failure logged", func() bool { return strings.Contains(logs.String(), `"delivery failed"`) })
	f.stop()
	var final, failed int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == "attempt failed" && m["next_attempt_at"] == "final" {
			final++
		}
		if m["msg"] == "delivery failed" {
			failed++
			if m["attempts"] != float64(3) {
				t.Errorf("failure after %v attempts, want 3", m["attempts"])
			}
		}
	}
	if final != 1 || failed != 1 {
		t.Errorf("%d final attempts and %d failures logged, want 1 and 1:\n%s", final, failed, logs.String())
	}
}
