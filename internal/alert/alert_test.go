package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/alert"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/testkit"
	"github.com/heraldhq/herald/nango"
)

// loopback is an egress client that may reach the test's loopback
// receivers, as the dispatcher's is under --allow-private-urls.
var loopback = egress.Options{AllowPrivate: true}

// fixture is a real SQLite file behind the cache, as internal/server
// wires it, with one environment whose primary URL has an endpoint.
type fixture struct {
	store *cache.Store
	env   *herald.Environment
	ep    herald.Endpoint
}

// hookURL is the environment's primary URL: the endpoint the events are
// about. Nothing is ever sent to it.
const hookURL = "http://127.0.0.1:9/hook?token=endpoint-secret"

// newFixture creates the environment with patch applied on top of a
// primary URL, and disables its endpoint (reason gone) when disabled.
func newFixture(t *testing.T, patch map[string]any, disabled bool) *fixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := cache.New(db, cache.Options{})
	envs := environments.New(environments.Config{Store: store})
	env, err := envs.Create(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]any{"primary_url": hookURL}
	for k, v := range patch {
		p[k] = v
	}
	if env.Settings, err = envs.UpdateSettings(t.Context(), env, p); err != nil {
		t.Fatal(err)
	}
	ep, err := store.EndpointByURL(t.Context(), env.ID, hookURL)
	if err != nil {
		t.Fatal(err)
	}
	if disabled {
		if ep, err = store.DisableEndpoint(t.Context(), env.ID, ep.ID, herald.DisabledGone, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{store: store, env: env, ep: *ep}
}

// receiver is an alert URL on loopback that answers 500 to its first
// fail requests, 200 to the others, and keeps every request.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	fail int
	reqs []testkit.Received
}

func newReceiver(t *testing.T, fail int) *receiver {
	rc := &receiver{fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, testkit.Received{Header: r.Header.Clone(), Body: b})
		failed := len(rc.reqs) <= rc.fail
		rc.mu.Unlock()
		if failed {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []testkit.Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]testkit.Received(nil), rc.reqs...)
}

// logBuffer is a log that tests read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newNotifier(t *testing.T, f *fixture, opts egress.Options) (*alert.Notifier, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	client := egress.New(opts)
	t.Cleanup(client.CloseIdleConnections)
	n := alert.New(f.store, client, slog.New(slog.NewTextHandler(logs, nil)))
	n.Backoff = []time.Duration{time.Millisecond, time.Millisecond}
	t.Cleanup(n.Close)
	return n, logs
}

// checkSigned fails the test unless req is the event signed with env's
// key, as a webhook is (docs/webhooks.md), and its body is the canonical
// body of event about ep.
func checkSigned(t *testing.T, env *herald.Environment, event string, ep herald.Endpoint, req testkit.Received) {
	t.Helper()
	h := req.Header
	if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "herald/"+herald.Version {
		t.Errorf("Content-Type %q, User-Agent %q", h.Get("Content-Type"), h.Get("User-Agent"))
	}
	if !nango.VerifyHMAC(env.SigningKey, req.Body, h.Get(nango.HeaderHMAC)) {
		t.Errorf("%s does not verify: %q", nango.HeaderHMAC, h.Get(nango.HeaderHMAC))
	}
	if !nango.VerifyLegacy(env.SigningKey, req.Body, h.Get(nango.HeaderLegacySignature)) {
		t.Errorf("%s does not verify: %q", nango.HeaderLegacySignature, h.Get(nango.HeaderLegacySignature))
	}
	if id, err := uuid.Parse(h.Get("X-Herald-Event-Id")); err != nil || id.Version() != 7 {
		t.Errorf("X-Herald-Event-Id %q, want a UUIDv7", h.Get("X-Herald-Event-Id"))
	}
	if h.Get("X-Herald-Delivery-Id") != "" {
		t.Errorf("X-Herald-Delivery-Id %q on an alert", h.Get("X-Herald-Delivery-Id"))
	}
	if env.Settings.StandardWebhooks {
		ts, err := strconv.ParseInt(h.Get(nango.HeaderStandardTimestamp), 10, 64)
		if err != nil {
			t.Errorf("webhook-timestamp %q", h.Get(nango.HeaderStandardTimestamp))
		}
		if h.Get(nango.HeaderStandardID) != h.Get("X-Herald-Event-Id") {
			t.Errorf("webhook-id %q, want the event id %q", h.Get(nango.HeaderStandardID), h.Get("X-Herald-Event-Id"))
		}
		if err := nango.VerifyStandard([]string{env.SigningKey}, h.Get(nango.HeaderStandardID), ts, req.Body,
			h.Get(nango.HeaderStandardSignature), time.Now(), time.Minute); err != nil {
			t.Errorf("webhook-signature: %v", err)
		}
	} else if h.Get(nango.HeaderStandardSignature) != "" || h.Get(nango.HeaderStandardID) != "" {
		t.Errorf("Standard Webhooks headers without standard_webhooks: %v", h)
	}
	// The body is the canonical one, whatever the time it was made at.
	var got struct {
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal(req.Body, &got); err != nil {
		t.Fatalf("body %s: %v", req.Body, err)
	}
	created, err := time.Parse("2006-01-02T15:04:05.000Z", got.CreatedAt)
	if err != nil || time.Since(created) > time.Minute || time.Until(created) > time.Second {
		t.Errorf("created_at %q: not a recent RFC 3339 UTC time with milliseconds", got.CreatedAt)
	}
	want, err := alert.Body(event, ep, env.ID, created)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(req.Body, want) {
		t.Errorf("body\n got %s\nwant %s", req.Body, want)
	}
}

// TestNotifier: each event goes to the alert URL signed like a webhook,
// retried on failure up to 3 attempts with the same body and event id,
// and nothing goes anywhere without an alert URL.
func TestNotifier(t *testing.T) {
	cases := []struct {
		name      string
		patch     map[string]any // besides alert_url (set unless noAlert)
		noAlert   bool
		disabled  bool
		event     string
		fail      int // the receiver answers 500 to this many requests first
		wantReqs  int
		wantLog   string
		wantQuery bool // the alert URL has a query, which the log never shows
	}{
		{name: "disabled", disabled: true, event: alert.EndpointDisabled, wantReqs: 1, wantLog: "alert sent"},
		{name: "enabled", event: alert.EndpointEnabled, wantReqs: 1, wantLog: "alert sent"},
		{name: "standard_webhooks", patch: map[string]any{"standard_webhooks": true}, disabled: true,
			event: alert.EndpointDisabled, wantReqs: 1, wantLog: "alert sent"},
		{name: "retried_after_500", disabled: true, event: alert.EndpointDisabled, fail: 2, wantReqs: 3,
			wantLog: "alert attempt failed", wantQuery: true},
		{name: "given_up_after_3_attempts", disabled: true, event: alert.EndpointDisabled, fail: 100, wantReqs: 3,
			wantLog: "alert not sent", wantQuery: true},
		{name: "no_alert_url", noAlert: true, disabled: true, event: alert.EndpointDisabled, wantReqs: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, c.fail)
			patch := map[string]any{}
			for k, v := range c.patch {
				patch[k] = v
			}
			alertURL := rc.srv.URL + "/alerts"
			if c.wantQuery {
				alertURL += "?token=alert-secret"
			}
			if !c.noAlert {
				patch["alert_url"] = alertURL
			}
			f := newFixture(t, patch, c.disabled)
			n, logs := newNotifier(t, f, loopback)
			n.Endpoint(c.event, f.ep)
			testkit.WaitFor(t, strconv.Itoa(c.wantReqs)+" requests", func() bool { return len(rc.requests()) >= c.wantReqs })
			// Close waits for what is in flight: after it, nothing more comes.
			n.Close()
			reqs := rc.requests()
			if len(reqs) != c.wantReqs {
				t.Fatalf("%d requests, want %d", len(reqs), c.wantReqs)
			}
			for i, req := range reqs {
				checkSigned(t, f.env, c.event, f.ep, req)
				if got := req.Header.Get("X-Herald-Attempt"); got != strconv.Itoa(i+1) {
					t.Errorf("request %d: X-Herald-Attempt %q", i, got)
				}
				if i > 0 && (!bytes.Equal(req.Body, reqs[0].Body) || req.Header.Get("X-Herald-Event-Id") != reqs[0].Header.Get("X-Herald-Event-Id")) {
					t.Errorf("retry %d is not the same event: %s %s", i, req.Header.Get("X-Herald-Event-Id"), req.Body)
				}
			}
			log := logs.String()
			if c.wantLog != "" && !strings.Contains(log, c.wantLog) {
				t.Errorf("log lacks %q:\n%s", c.wantLog, log)
			}
			if c.wantReqs > 0 && !strings.Contains(log, rc.srv.URL+"/alerts") {
				t.Errorf("log does not name the alert URL's scheme, host and path:\n%s", log)
			}
			for _, secret := range []string{"alert-secret", "endpoint-secret"} {
				if strings.Contains(log, secret) {
					t.Errorf("log shows a URL's query %q:\n%s", secret, log)
				}
			}
		})
	}
}

// TestNotifierBody: the body of each event, byte for byte.
func TestNotifierBody(t *testing.T) {
	at := time.Date(2026, 3, 25, 20, 42, 49, 717_999_000, time.FixedZone("CET", 3600))
	disabledAt := time.Date(2026, 3, 25, 19, 0, 0, 5_000_000, time.UTC)
	ep := herald.Endpoint{ID: "0195d1a2-7c4e-7b11-8a55-13f0c2d9e7b4", EnvironmentID: "env-1", URL: "https://app.example.com/hook",
		Disabled: true, DisabledReason: herald.DisabledFailing, DisabledAt: &disabledAt, ConsecutiveFailures: 12}
	for _, c := range []struct {
		event string
		ep    herald.Endpoint
		want  string
	}{
		{alert.EndpointDisabled, ep, `{"created_at":"2026-03-25T19:42:49.717Z","endpoint":{"consecutive_failures":12,` +
			`"disabled_at":"2026-03-25T19:00:00.005Z","disabled_reason":"failing","id":"0195d1a2-7c4e-7b11-8a55-13f0c2d9e7b4",` +
			`"state":"disabled","url":"https://app.example.com/hook"},"environment_id":"env-1","from":"herald","type":"endpoint.disabled"}`},
		{alert.EndpointEnabled, herald.Endpoint{ID: ep.ID, EnvironmentID: ep.EnvironmentID, URL: ep.URL},
			`{"created_at":"2026-03-25T19:42:49.717Z","endpoint":{"consecutive_failures":0,"disabled_at":null,"disabled_reason":null,` +
				`"id":"0195d1a2-7c4e-7b11-8a55-13f0c2d9e7b4","state":"healthy","url":"https://app.example.com/hook"},` +
				`"environment_id":"env-1","from":"herald","type":"endpoint.enabled"}`},
	} {
		got, err := alert.Body(c.event, c.ep, "env-1", at)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.event, got, c.want)
		}
	}
}

// An alert URL that resolves to a refused address is refused at send time
// too (the policy is the dispatcher's): no request, and no retry.
func TestNotifierRefusedAddress(t *testing.T) {
	rc := newReceiver(t, 0)
	f := newFixture(t, map[string]any{"alert_url": rc.srv.URL + "/alerts"}, true)
	n, logs := newNotifier(t, f, egress.Options{}) // the production policy: loopback refused
	n.Endpoint(alert.EndpointDisabled, f.ep)
	n.Close()
	if got := len(rc.requests()); got != 0 {
		t.Fatalf("%d requests to a refused address", got)
	}
	if log := logs.String(); !strings.Contains(log, "alert not sent") || !strings.Contains(log, "loopback") ||
		strings.Count(log, "attempt=") != 1 {
		t.Errorf("log, want one refused attempt:\n%s", log)
	}
}

// Close waits for the attempt in flight to end.
func TestCloseWaits(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(entered) })
		<-release
	}))
	t.Cleanup(srv.Close)
	f := newFixture(t, map[string]any{"alert_url": srv.URL + "/alerts"}, true)
	n, logs := newNotifier(t, f, loopback)
	n.Endpoint(alert.EndpointDisabled, f.ep)
	<-entered
	closed := make(chan struct{})
	go func() { n.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while an attempt was in flight")
	default:
	}
	close(release)
	<-closed
	if log := logs.String(); !strings.Contains(log, "alert sent") {
		t.Errorf("Close returned before the attempt's outcome was logged:\n%s", log)
	}
}

// Close gives up the retries not yet started instead of waiting for
// their backoff, and events after it are dropped.
func TestCloseStopsRetries(t *testing.T) {
	rc := newReceiver(t, 100)
	f := newFixture(t, map[string]any{"alert_url": rc.srv.URL + "/alerts"}, true)
	n, logs := newNotifier(t, f, loopback)
	n.Backoff = []time.Duration{time.Hour, time.Hour}
	n.Endpoint(alert.EndpointDisabled, f.ep)
	testkit.WaitFor(t, "the first attempt", func() bool { return len(rc.requests()) == 1 })
	closed := make(chan struct{})
	go func() { n.Close(); close(closed) }()
	testkit.WaitFor(t, "Close to return", func() bool {
		select {
		case <-closed:
			return true
		default:
			return false
		}
	})
	n.Endpoint(alert.EndpointEnabled, f.ep) // after Close: dropped
	if got := len(rc.requests()); got != 1 {
		t.Errorf("%d requests, want the first attempt only", got)
	}
	if log := logs.String(); strings.Count(log, "herald is stopping") != 2 {
		t.Errorf("log, want the retry and the late event given up:\n%s", log)
	}
}

// A nil Notifier does nothing.
func TestNilNotifier(t *testing.T) {
	var n *alert.Notifier
	n.Endpoint(alert.EndpointDisabled, herald.Endpoint{ID: "x"})
	n.Close()
}

// Sends go on concurrently: one slow alert URL does not hold up another
// environment's.
func TestNotifierConcurrent(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(slow.Close)
	defer close(release) // before the cleanups, which Close the notifier
	rc := newReceiver(t, 0)
	f := newFixture(t, map[string]any{"alert_url": slow.URL + "/alerts"}, true)
	envs := environments.New(environments.Config{Store: f.store})
	other, err := envs.Create(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envs.UpdateSettings(t.Context(), other, map[string]any{"alert_url": rc.srv.URL + "/alerts"}); err != nil {
		t.Fatal(err)
	}
	n, _ := newNotifier(t, f, loopback)
	n.Endpoint(alert.EndpointDisabled, f.ep)
	n.Endpoint(alert.EndpointEnabled, herald.Endpoint{ID: "ep-other", EnvironmentID: other.ID, URL: "https://x.example/h"})
	testkit.WaitFor(t, "the other environment's alert", func() bool { return len(rc.requests()) == 1 })
}
