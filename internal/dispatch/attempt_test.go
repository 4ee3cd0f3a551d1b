package dispatch_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/nango"
)

// deliverOne runs a dispatcher over store, sends one event to url with a
// 1 s attempt timeout (the minimum) and no retries, and returns the
// delivery and its attempts once the attempt is recorded.
func deliverOne(t *testing.T, store herald.Store, url string) (*herald.Delivery, []herald.Attempt) {
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256([]byte(uuid.NewString()))
	env := &herald.Environment{ID: uuid.NewString(), Name: "t", SecretKeyHash: sum[:], SigningKey: uuid.NewString(),
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	env.Settings.TimeoutMS = 1000
	env.Settings.Retry.MaxRetries = 0
	env.Settings.PrimaryURL = &url
	if err := store.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	client := egress.New(egress.Options{AllowPrivate: true})
	d := dispatch.New(dispatch.Config{Store: store, Client: client})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; client.CloseIdleConnections() })

	svc := &intake.Service{Store: store, Dispatcher: d}
	var answer struct {
		Deliveries []struct{ ID string } `json:"deliveries"`
	}
	var b []byte
	var err error
	// The dispatcher takes a moment to start; until then the delivery is
	// stored pending and claimed later, which is just as good.
	if b, err = svc.AcceptEvent(ctx, env, "", &nango.ForwardWebhook{ConnectionID: "c", ProviderConfigKey: "p", Payload: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &answer); err != nil || len(answer.Deliveries) != 1 {
		t.Fatalf("answer %s: %v", b, err)
	}
	var del *herald.Delivery
	var attempts []herald.Attempt
	waitFor(t, "the attempt recorded", func() bool {
		del, _, attempts, err = store.GetDelivery(ctx, env.ID, answer.Deliveries[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(attempts) == 1 && del.Status != herald.StatusSending && del.Status != herald.StatusPending
	})
	return del, attempts
}

// stalling is a receiver that sends status and the first part of its
// body, flushes, and then sends nothing more until the test ends.
func stalling(t *testing.T, status int, part string) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(status)
		io.WriteString(w, part)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL
}

// cutOff is a receiver that promises a longer body than it sends and
// closes the connection.
func cutOff(t *testing.T, status int, part string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 "+strconv.Itoa(status)+" X\r\nContent-Length: 1000\r\n\r\n"+part)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// answering is a receiver that answers status and body at once.
func answering(t *testing.T, status int, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAttemptRecordsBodyReadError: a receiver that answers and then stalls
// or cuts its body off has the read error noted on the attempt, with its
// status code, and the attempt is a failure even after a 2xx: the timeout
// covers the whole response, as with Nango's client.
func TestAttemptRecordsBodyReadError(t *testing.T) {
	tests := []struct {
		name       string
		url        func(t *testing.T) string
		status     string // the delivery's, with no retries
		code       int
		errHas     []string // "" entries: none; nil: no error at all
		bodyPrefix string
	}{
		{"2xx_then_stall", func(t *testing.T) string { return stalling(t, 200, "partial") },
			herald.StatusFailed, 200, []string{"reading the response body", "timed out after 1s"}, "partial"},
		{"500_then_stall", func(t *testing.T) string { return stalling(t, 500, "oops") },
			herald.StatusFailed, 500, []string{"reading the response body", "timed out after 1s"}, "oops"},
		{"302_then_stall", func(t *testing.T) string { return stalling(t, 302, "") },
			herald.StatusFailed, 302, []string{"redirect (302) not followed", "reading the response body: timed out after 1s"}, ""},
		{"2xx_cut_off", func(t *testing.T) string { return cutOff(t, 202, "half") },
			herald.StatusFailed, 202, []string{"reading the response body: unexpected EOF"}, "half"},
		{"500_cut_off", func(t *testing.T) string { return cutOff(t, 500, "half") },
			herald.StatusFailed, 500, []string{"reading the response body: unexpected EOF"}, "half"},
		{"2xx_whole_body", func(t *testing.T) string { return answering(t, 200, "fine") },
			herald.StatusSucceeded, 200, nil, "fine"},
		{"500_whole_body", func(t *testing.T) string { return answering(t, 500, "boom") },
			herald.StatusFailed, 500, nil, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url(t)
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "d.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			del, attempts := deliverOne(t, st, url)
			a := attempts[0]
			if del.Status != tt.status {
				t.Errorf("delivery %s, want %s", del.Status, tt.status)
			}
			if a.StatusCode == nil || *a.StatusCode != tt.code {
				t.Errorf("attempt status code %v, want %d", a.StatusCode, tt.code)
			}
			if tt.errHas == nil {
				if a.Error != nil {
					t.Errorf("attempt error %q, want none", *a.Error)
				}
			} else {
				if a.Error == nil {
					t.Fatalf("attempt error is null, want one mentioning %q", tt.errHas)
				}
				for _, m := range tt.errHas {
					if !strings.Contains(*a.Error, m) {
						t.Errorf("attempt error %q does not mention %q", *a.Error, m)
					}
				}
				if del.LastError == nil || *del.LastError != *a.Error {
					t.Errorf("delivery last_error %v, want the attempt's %q", del.LastError, *a.Error)
				}
			}
			if tt.bodyPrefix != "" && (a.ResponseBody == nil || !strings.HasPrefix(*a.ResponseBody, tt.bodyPrefix)) {
				t.Errorf("attempt response body %v, want it to start with %q", a.ResponseBody, tt.bodyPrefix)
			}
		})
	}
}

// TestAttemptResponseBodyWithNUL: a receiver's answer holding NUL and
// ill-formed UTF-8 is recorded (as U+FFFD) on SQLite and on PostgreSQL,
// which refuses NUL in text: one receiver cannot make outcomes unwritable.
func TestAttemptResponseBodyWithNUL(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) herald.Store
	}{
		{"sqlite", func(t *testing.T) herald.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "d.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(t *testing.T) herald.Store {
			st, err := postgres.Open(context.Background(), pgtest.DSN(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.open(t)
			del, attempts := deliverOne(t, st, answering(t, 500, "a\x00b\xffc"))
			a := attempts[0]
			if want := "a\uFFFDb\uFFFDc"; a.ResponseBody == nil || *a.ResponseBody != want {
				t.Errorf("response body %v, want %q", a.ResponseBody, want)
			}
			if del.Status != herald.StatusFailed {
				t.Errorf("delivery %s, want failed", del.Status)
			}
		})
	}
}

// What an attempt says of its endpoint's health: a 2xx is a success; any
// other answer a failure, but for a 429 or 503 with a Retry-After, which
// asks for time and counts nowhere.
func TestAttemptHealth(t *testing.T) {
	later := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, c := range []struct {
		name       string
		status     int
		retryAfter string
		failures   int
		counted    int64 // attempts in the endpoint's figures
		successes  int64
	}{
		{"2xx", 204, "", 0, 1, 1},
		{"500", 500, "", 1, 1, 0},
		{"429 without Retry-After", 429, "", 1, 1, 0},
		{"429 with Retry-After seconds", 429, "1", 0, 0, 0},
		{"503 with Retry-After date", 503, later, 0, 0, 0},
		{"503 with a Retry-After in the past", 503, "Mon, 02 Jan 2006 15:04:05 GMT", 1, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if c.retryAfter != "" {
					w.Header().Set("Retry-After", c.retryAfter)
				}
				w.WriteHeader(c.status)
			}))
			t.Cleanup(srv.Close)
			store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			url := srv.URL + "/hook"
			del, _ := deliverOne(t, store, url)
			ep, err := store.EndpointByURL(t.Context(), del.EnvironmentID, url)
			if err != nil {
				t.Fatalf("EndpointByURL: %v", err)
			}
			if ep.ConsecutiveFailures != c.failures {
				t.Errorf("consecutive failures %d, want %d", ep.ConsecutiveFailures, c.failures)
			}
			stats, err := store.EndpointStats(t.Context(), del.EnvironmentID, []string{url}, time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if st := stats[url]; st.Attempts != c.counted || st.Successes != c.successes {
				t.Errorf("figures %d attempts, %d successes; want %d, %d", st.Attempts, st.Successes, c.counted, c.successes)
			}
		})
	}
}

// An endpoint is disabled at once when it answers 410 Gone, and once every
// attempt has failed for DisableAfter (a nanosecond here, so the second
// failure in a row does it); the delivery's later attempts are then held,
// not made.
func TestEndpointDisabledByAnswers(t *testing.T) {
	for _, c := range []struct {
		name     string
		status   int
		reason   string
		attempts int // made before the delivery was held
	}{
		{"410 Gone", http.StatusGone, herald.DisabledGone, 1},
		{"failing for DisableAfter", http.StatusInternalServerError, herald.DisabledFailing, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				hits.Add(1)
				w.WriteHeader(c.status)
			}))
			t.Cleanup(srv.Close)
			ctx := t.Context()
			store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			url := srv.URL + "/hook"
			sum := sha256.Sum256([]byte(uuid.NewString()))
			env := &herald.Environment{ID: uuid.NewString(), Name: "t", SecretKeyHash: sum[:], SigningKey: uuid.NewString(),
				Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
			env.Settings.TimeoutMS = 1000
			env.Settings.Retry.MaxRetries = 5
			env.Settings.PrimaryURL = &url
			if err := store.CreateEnvironment(ctx, env); err != nil {
				t.Fatal(err)
			}
			client := egress.New(egress.Options{AllowPrivate: true})
			d := dispatch.New(dispatch.Config{Store: store, Client: client, DisableAfter: time.Nanosecond})
			runCtx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { d.Run(runCtx); close(done) }()
			t.Cleanup(func() { cancel(); <-done; client.CloseIdleConnections() })
			svc := &intake.Service{Store: store, Dispatcher: d}
			if _, err := svc.AcceptEvent(ctx, env, "", &nango.ForwardWebhook{ConnectionID: "c", ProviderConfigKey: "p", Payload: "x"}); err != nil {
				t.Fatal(err)
			}
			var held []herald.Delivery
			waitFor(t, "the delivery held", func() bool {
				held, err = store.ListDeliveries(ctx, env.ID, herald.DeliveryFilter{Status: herald.StatusHeld, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				return len(held) == 1
			})
			ep, err := store.EndpointByURL(ctx, env.ID, url)
			if err != nil {
				t.Fatal(err)
			}
			if !ep.Disabled || ep.DisabledReason != c.reason || ep.DisabledAt == nil {
				t.Errorf("endpoint %+v, want disabled for %q", ep, c.reason)
			}
			if n := hits.Load(); n != int64(c.attempts) || held[0].Attempts != c.attempts {
				t.Errorf("%d requests, %d attempts recorded; want %d before the hold", n, held[0].Attempts, c.attempts)
			}
		})
	}
}
