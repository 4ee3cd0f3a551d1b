package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	herald "github.com/heraldhq/herald"
)

// fakeStats is a herald.StatsStore with a set answer.
type fakeStats struct {
	stats herald.QueueStats
	err   error
	// block, when set, makes QueueStats wait for it, ignoring its context.
	block chan struct{}
	calls atomic.Int64
}

func (f *fakeStats) QueueStats(ctx context.Context) (herald.QueueStats, error) {
	f.calls.Add(1)
	if f.block != nil {
		<-f.block
	}
	return f.stats, f.err
}

var clock = time.Date(2026, time.March, 25, 19, 42, 49, 0, time.UTC)

// newTest is New with a fixed clock, a short timeout and no reuse.
func newTest(store herald.StatsStore) *Metrics {
	return newMetrics(store, options{timeout: 100 * time.Millisecond, walTimeout: 100 * time.Millisecond, now: func() time.Time { return clock }})
}

func code(c int) *int { return &c }

func TestStatusClass(t *testing.T) {
	for _, tc := range []struct {
		code *int
		want string
	}{
		{nil, "error"},
		{code(200), "2xx"}, {code(204), "2xx"}, {code(299), "2xx"},
		{code(301), "3xx"}, {code(399), "3xx"},
		{code(400), "4xx"}, {code(429), "4xx"},
		{code(500), "5xx"}, {code(503), "5xx"}, {code(599), "5xx"},
		{code(101), "other"}, {code(600), "other"}, {code(999), "other"},
	} {
		if got := StatusClass(tc.code); got != tc.want {
			t.Errorf("StatusClass(%s) = %q, want %q", fmtCode(tc.code), got, tc.want)
		}
	}
}

func fmtCode(c *int) string {
	if c == nil {
		return "nil"
	}
	return strconv.Itoa(*c)
}

func TestEventsStored(t *testing.T) {
	ev := func(typ, skipped string) herald.EventRecord {
		return herald.EventRecord{Event: herald.Event{Type: typ, Skipped: skipped}}
	}
	m := newTest(nil)
	m.EventsStored([]herald.EventRecord{
		ev("sync", ""), ev("sync", ""), ev("sync", "on_sync_error_disabled"),
		ev("auth", "on_auth_creation_disabled"), ev("auth", "on_auth_creation_disabled"), ev("auth", "no_webhook_url"),
		ev("forward", "handshake"), ev("async_action", ""),
	})
	m.EventsStored(nil)
	m.EventsStored([]herald.EventRecord{ev("weird", "")})
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"sync"}, 3}, {[]string{"auth"}, 3}, {[]string{"forward"}, 1}, {[]string{"async_action"}, 1},
		{[]string{"other"}, 1},
	} {
		if got := testutil.ToFloat64(m.eventsAccepted.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("herald_events_accepted_total%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	want := `
# HELP herald_events_skipped_total Events stored without deliveries, by webhook type and skip reason.
# TYPE herald_events_skipped_total counter
herald_events_skipped_total{reason="handshake",type="forward"} 1
herald_events_skipped_total{reason="no_webhook_url",type="auth"} 1
herald_events_skipped_total{reason="on_auth_creation_disabled",type="auth"} 2
herald_events_skipped_total{reason="on_sync_error_disabled",type="sync"} 1
`
	if err := testutil.CollectAndCompare(m.eventsSkipped, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestAttemptDone(t *testing.T) {
	started := clock.Add(-1500 * time.Millisecond)
	later := clock.Add(time.Minute)
	for _, tc := range []struct {
		name    string
		res     herald.AttemptResult
		made    bool
		class   string // "": no attempt counted
		outcome string // "": no delivery counted
	}{
		{"success", herald.AttemptResult{Status: herald.StatusSucceeded, Attempt: herald.Attempt{StartedAt: started, StatusCode: code(200)}},
			true, "2xx", "succeeded"},
		{"retry after 503", herald.AttemptResult{Status: herald.StatusPending, NextAttemptAt: &later,
			Attempt: herald.Attempt{StartedAt: started, StatusCode: code(503)}}, true, "5xx", ""},
		{"failed for good", herald.AttemptResult{Status: herald.StatusFailed, Attempt: herald.Attempt{StartedAt: started, StatusCode: code(404)}},
			true, "4xx", "failed"},
		{"redirect not followed", herald.AttemptResult{Status: herald.StatusFailed, Attempt: herald.Attempt{StartedAt: started, StatusCode: code(302)}},
			true, "3xx", "failed"},
		{"timeout, retried", herald.AttemptResult{Status: herald.StatusPending, NextAttemptAt: &later,
			Attempt: herald.Attempt{StartedAt: started}}, true, "error", ""},
		{"blocked address", herald.AttemptResult{Status: herald.StatusSkipped, Attempt: herald.Attempt{StartedAt: started}},
			true, "error", "skipped"},
		{"interrupted by shutdown", herald.AttemptResult{Attempt: herald.Attempt{StartedAt: started}}, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(nil)
			m.AttemptStarted()
			m.AttemptStarted()
			if got := testutil.ToFloat64(m.inFlight); got != 2 {
				t.Fatalf("in flight = %v, want 2", got)
			}
			m.AttemptDone(tc.res, tc.made)
			if got := testutil.ToFloat64(m.inFlight); got != 1 {
				t.Errorf("in flight = %v after one ended, want 1", got)
			}
			for _, c := range statusClasses {
				want := 0.0
				if c == tc.class {
					want = 1
				}
				if got := testutil.ToFloat64(m.attempts.WithLabelValues(c)); got != want {
					t.Errorf("herald_attempts_total{status_class=%q} = %v, want %v", c, got, want)
				}
			}
			for _, o := range finalStatuses {
				want := 0.0
				if o == tc.outcome {
					want = 1
				}
				if got := testutil.ToFloat64(m.deliveries.WithLabelValues(o)); got != want {
					t.Errorf("herald_deliveries_total{outcome=%q} = %v, want %v", o, got, want)
				}
			}
			wantHist := `
# HELP herald_attempt_duration_seconds Time from sending an attempt's request to the end of its response, or to its error.
# TYPE herald_attempt_duration_seconds histogram
herald_attempt_duration_seconds_bucket{le="0.005"} 0
herald_attempt_duration_seconds_bucket{le="0.01"} 0
herald_attempt_duration_seconds_bucket{le="0.025"} 0
herald_attempt_duration_seconds_bucket{le="0.05"} 0
herald_attempt_duration_seconds_bucket{le="0.1"} 0
herald_attempt_duration_seconds_bucket{le="0.25"} 0
herald_attempt_duration_seconds_bucket{le="0.5"} 0
herald_attempt_duration_seconds_bucket{le="1"} 0
herald_attempt_duration_seconds_bucket{le="2.5"} 1
herald_attempt_duration_seconds_bucket{le="5"} 1
herald_attempt_duration_seconds_bucket{le="10"} 1
herald_attempt_duration_seconds_bucket{le="20"} 1
herald_attempt_duration_seconds_bucket{le="30"} 1
herald_attempt_duration_seconds_bucket{le="60"} 1
herald_attempt_duration_seconds_bucket{le="+Inf"} 1
herald_attempt_duration_seconds_sum 1.5
herald_attempt_duration_seconds_count 1
`
			if !tc.made {
				wantHist = strings.ReplaceAll(wantHist, "} 1\n", "} 0\n")
				wantHist = strings.ReplaceAll(wantHist, "_sum 1.5", "_sum 0")
				wantHist = strings.ReplaceAll(wantHist, "_count 1", "_count 0")
			}
			if err := testutil.CollectAndCompare(m.attemptDuration, strings.NewReader(wantHist)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLanes(t *testing.T) {
	m := newTest(nil)
	const help = "# HELP herald_lanes URL lanes open in this process's dispatcher now.\n# TYPE herald_lanes gauge\n"
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(help+"herald_lanes 0\n"), "herald_lanes"); err != nil {
		t.Errorf("before ObserveLanes: %v", err)
	}
	var n atomic.Int64
	n.Store(7)
	m.ObserveLanes(func() int { return int(n.Load()) })
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(help+"herald_lanes 7\n"), "herald_lanes"); err != nil {
		t.Error(err)
	}
	n.Store(2)
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(help+"herald_lanes 2\n"), "herald_lanes"); err != nil {
		t.Error(err)
	}
}

// Retention's figures add up.
func TestPruned(t *testing.T) {
	m := New(nil)
	m.Pruned(1000, 3)
	m.Pruned(2, 0)
	const want = `
# HELP herald_pruned_bodies_total Event bodies emptied by retention (--body-retention) in this process.
# TYPE herald_pruned_bodies_total counter
herald_pruned_bodies_total 3
# HELP herald_pruned_deliveries_total Finished deliveries deleted by retention (--retention) in this process, with their attempts.
# TYPE herald_pruned_deliveries_total counter
herald_pruned_deliveries_total 1002
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"herald_pruned_deliveries_total", "herald_pruned_bodies_total"); err != nil {
		t.Error(err)
	}
}

// A nil *Metrics does nothing, and serves 404.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.EventsStored([]herald.EventRecord{{Event: herald.Event{Type: "sync", Skipped: "x"}}})
	m.AttemptStarted()
	m.AttemptDone(herald.AttemptResult{Status: herald.StatusSucceeded, Attempt: herald.Attempt{StartedAt: clock, StatusCode: code(200)}}, true)
	m.AttemptDone(herald.AttemptResult{}, false)
	m.ObserveLanes(func() int { return 1 })
	m.Pruned(1, 1)
	if m.Registry() != nil {
		t.Error("Registry() of nil is not nil")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler answered %d, want 404", rec.Code)
	}
}

const queueHelp = `
# HELP herald_queue_oldest_pending_age_seconds Age of the oldest pending delivery (since it was created); 0 when none is pending.
# TYPE herald_queue_oldest_pending_age_seconds gauge
herald_queue_oldest_pending_age_seconds %s
# HELP herald_queue_pending_deliveries Deliveries waiting for an attempt (due or not), in the whole database.
# TYPE herald_queue_pending_deliveries gauge
herald_queue_pending_deliveries %s
# HELP herald_queue_sending_deliveries Deliveries claimed by a herald process, in the whole database.
# TYPE herald_queue_sending_deliveries gauge
herald_queue_sending_deliveries %s
`

var queueNames = []string{"herald_queue_pending_deliveries", "herald_queue_sending_deliveries", "herald_queue_oldest_pending_age_seconds"}

func queueText(age, pending, sending string) string {
	return fmt.Sprintf(queueHelp, age, pending, sending)
}

func TestQueueGauges(t *testing.T) {
	oldest := clock.Add(-90 * time.Second)
	future := clock.Add(time.Second) // another process's clock ahead of ours
	for _, tc := range []struct {
		name  string
		stats herald.QueueStats
		want  string
	}{
		{"empty", herald.QueueStats{}, queueText("0", "0", "0")},
		{"pending and sending", herald.QueueStats{Pending: 1234567, Sending: 42, OldestPendingAt: &oldest}, queueText("90", "1.234567e+06", "42")},
		{"clock skew", herald.QueueStats{Pending: 1, OldestPendingAt: &future}, queueText("0", "1", "0")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(&fakeStats{stats: tc.stats})
			if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(tc.want), queueNames...); err != nil {
				t.Error(err)
			}
		})
	}
}

// scrape serves m's handler over HTTP and returns the body of one scrape,
// which must succeed.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape answered %d: %s", resp.StatusCode, body)
	}
	return string(body)
}

// A store that fails, or does not answer in time, leaves the queue
// gauges out of the scrape, which still succeeds with everything else.
func TestQueueStatsErrors(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	for _, tc := range []struct {
		name  string
		store *fakeStats
	}{
		{"error", &fakeStats{err: errors.New("database is on fire")}},
		{"timeout", &fakeStats{block: block}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(tc.store)
			start := time.Now()
			for i := 1; i <= 2; i++ {
				body := scrape(t, m)
				for _, name := range queueNames {
					if strings.Contains(body, name) {
						t.Errorf("scrape %d shows %s despite the store's failure", i, name)
					}
				}
				for _, want := range []string{"herald_queue_stats_errors_total " + strconv.Itoa(i) + "\n", "herald_lanes 0\n",
					`herald_attempts_total{status_class="2xx"} 0`, "go_goroutines ", "process_start_time_seconds "} {
					if !strings.Contains(body, want) {
						t.Errorf("scrape %d lacks %q:\n%s", i, want, body)
					}
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("two scrapes took %s despite the 100 ms timeout", d)
			}
		})
	}
}

// An answer serves the scrapes that follow within reuse; after it, the
// store is read again.
func TestQueueStatsReuse(t *testing.T) {
	f := &fakeStats{stats: herald.QueueStats{Pending: 3}}
	m := newMetrics(f, options{timeout: time.Second, reuse: time.Hour, now: time.Now})
	for range 3 {
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(queueText("0", "3", "0")), queueNames...); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("store read %d times for 3 scrapes within reuse, want 1", n)
	}
	m = newMetrics(f, options{timeout: time.Second, reuse: 0, now: time.Now})
	f.calls.Store(0)
	for range 3 {
		testutil.GatherAndCompare(m.Registry(), strings.NewReader(""), queueNames[0])
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("store read %d times for 3 scrapes without reuse, want 3", n)
	}
}

// Endpoints disabled and enabled are counted by event and reason, every
// series there from the start.
func TestEndpointEvents(t *testing.T) {
	m := New(nil)
	m.EndpointEvent(EndpointDisabled, "gone")
	m.EndpointEvent(EndpointDisabled, "gone")
	m.EndpointEvent(EndpointEnabled, "")
	const want = `
# HELP herald_endpoint_events_total Endpoints disabled (by reason: manual, gone, failing) and enabled, and circuits opened and closed, by this process.
# TYPE herald_endpoint_events_total counter
herald_endpoint_events_total{event="circuit.closed",reason=""} 0
herald_endpoint_events_total{event="circuit.opened",reason=""} 0
herald_endpoint_events_total{event="endpoint.disabled",reason="failing"} 0
herald_endpoint_events_total{event="endpoint.disabled",reason="gone"} 2
herald_endpoint_events_total{event="endpoint.disabled",reason="manual"} 0
herald_endpoint_events_total{event="endpoint.enabled",reason=""} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "herald_endpoint_events_total"); err != nil {
		t.Error(err)
	}
}
