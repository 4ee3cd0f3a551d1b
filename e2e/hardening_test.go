package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// An Idempotency-Key reused with a different body is 422
// idempotency_key_reused on both routes and stores nothing; the same body
// replays the first answer (hardening #10).
func TestIdempotencyKeyReused(t *testing.T) { forEachStore(t, testIdempotencyKeyReused) }

func testIdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	rc := newReceiver(t, nil)
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	first := e.post(t, asyncEvent, "Idempotency-Key", "reuse-1")
	other := `{"type":"async_action","connectionId":"c2","providerConfigKey":"github","payload":{"id":"a2","statusUrl":"/action/a2"}}`
	checkError(t, e.do(t, "POST", "/events", other, "Idempotency-Key", "reuse-1"), http.StatusUnprocessableEntity,
		"idempotency_key_reused", "Idempotency-Key")
	if again := e.post(t, asyncEvent, "Idempotency-Key", "reuse-1"); again.ID != first.ID {
		t.Errorf("same key and body after a refused reuse: event %s, want the first %s", again.ID, first.ID)
	}

	batch := e.postBatch(t, []string{asyncEvent, validSync}, "Idempotency-Key", "reuse-2")
	checkError(t, e.do(t, "POST", "/events/batch", `{"events":[`+asyncEvent+`]}`, "Idempotency-Key", "reuse-2"),
		http.StatusUnprocessableEntity, "idempotency_key_reused", "Idempotency-Key")
	// Exactly the accepted deliveries exist.
	want := map[string]bool{first.Deliveries[0].ID: true}
	for _, a := range batch {
		for _, d := range a.Deliveries {
			want[d.ID] = true
		}
	}
	ds := e.allDeliveries(t, "")
	if len(ds) != len(want) {
		t.Errorf("%d deliveries stored, want %d: the refused requests stored something", len(ds), len(want))
	}
	for _, d := range ds {
		if !want[d.ID] {
			t.Errorf("delivery %s was not accepted by any 202", d.ID)
		}
	}
}

// A second herald serve on the same SQLite file exits at once with a clear
// message, and the first keeps delivering (hardening #7).
func TestSecondProcessOnSQLiteFileRefused(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "herald.db")
	h := startHerald(t, heraldOpts{DB: db})
	rc := newReceiver(t, nil)
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, heraldBin, "serve", "--addr", "127.0.0.1:0", "--database", "sqlite:"+db, "--admin-key", adminKey)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || ctx.Err() != nil {
		t.Fatalf("second serve: %v (output %q), want a prompt non-zero exit", err, out)
	}
	if !strings.Contains(string(out), "in use by another herald process") || strings.Contains(string(out), "listening on") {
		t.Errorf("second serve said %q, want a clear 'in use' message and no listener", out)
	}

	a := e.post(t, asyncEvent)
	if d := e.waitDelivery(t, a.Deliveries[0].ID, "succeeded", "failed"); d.Status != "succeeded" {
		t.Errorf("the first process after the refused second one: %s", d)
	}
	if n := len(rc.For(a.Deliveries[0].ID)); n != 1 {
		t.Errorf("delivery arrived %d times, want once", n)
	}
}

// Two processes race one delivery past its lease: the first holder stalls
// (SIGSTOP) mid-attempt, its lease ends, the second claims the delivery and
// delivers it. When the first wakes up and its attempt ends with a 500, its
// outcome carries a stale fencing token and is dropped: the delivery stays
// succeeded, with the second holder's attempt (hardening #8).
func TestStaleLeaseOutcomeFenced(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	a := startHerald(t, heraldOpts{DB: dsn, Lease: 2 * time.Second})
	b := startHerald(t, heraldOpts{DB: dsn, Lease: 2 * time.Second})

	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	var n atomic.Int32
	firstDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 && r.URL.Path == "/race" {
			<-release // the first holder's attempt waits here
			w.WriteHeader(http.StatusInternalServerError)
			close(firstDone)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(free) // runs before srv.Close, which waits for the held request

	e := newEnv(t, a)
	e.patch(t, map[string]any{"primary_url": srv.URL + "/race", "timeout_ms": 60000})
	acc := e.post(t, asyncEvent) // a stores it claimed and attempts it
	id := acc.Deliveries[0].ID
	waitFor(t, stateTimeout, "the first attempt to arrive", func() (bool, string) { return n.Load() >= 1, "" })

	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	resume := func() {
		if stopped {
			a.cmd.Process.Signal(syscall.SIGCONT)
			stopped = false
		}
	}
	t.Cleanup(resume)

	eb := *e
	eb.client = &client{base: b.URL, key: e.key}
	d := eb.waitDelivery(t, id, "succeeded", "failed")
	if d.Status != "succeeded" || n.Load() < 2 {
		t.Fatalf("after the first holder stalled: %s, %d requests; want succeeded by the second process", d, n.Load())
	}

	resume()
	free()
	<-firstDone
	// A marker through the first process: once its outcome is written, the
	// stale outcome (handed to the same writer earlier) has been dealt with.
	e.patch(t, map[string]any{"primary_url": srv.URL + "/marker"})
	marker := e.post(t, asyncEvent)
	e.waitDelivery(t, marker.Deliveries[0].ID, "succeeded")

	d = eb.delivery(t, id)
	if d.Status != "succeeded" || d.Attempts != 1 || len(d.AttemptLog) != 1 || codes(d.AttemptLog)[0] != 200 {
		t.Errorf("after the stale holder's 500: %s attempts=%d log=%v; want succeeded with the second holder's 200 only",
			d, d.Attempts, codes(d.AttemptLog))
	}
	t.Logf("fault: stale-lease race requests=%d final=%s attempts=%d", n.Load(), d.Status, d.Attempts)
}

// Tenants stay apart across processes: with two herald processes on one
// PostgreSQL database, every environment route is walked on the process
// that did not create the data, with another environment's key, no key, a
// garbage key and the admin key; then a deletion made through one process
// shuts the key out on the other (hardening: isolation, #5).
func TestIsolationAcrossProcesses(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	p1 := startHerald(t, heraldOpts{DB: dsn})
	p2 := startHerald(t, heraldOpts{DB: dsn})
	rc := newReceiver(t, nil)
	owner := newEnv(t, p1)
	owner.patch(t, map[string]any{"primary_url": rc.URL("/owner")})
	ev := owner.post(t, asyncEvent)
	delivery := ev.Deliveries[0].ID
	owner.waitDelivery(t, delivery, "succeeded")
	other := newEnv(t, p2)

	routes := []struct{ method, path, body string }{
		{"GET", "/environment", ""},
		{"PATCH", "/environment/webhook", `{"on_auth_creation":false}`},
		{"POST", "/environment/webhook-signing-key/rotate", ""},
		{"POST", "/events", asyncEvent},
		{"POST", "/events/batch", `{"events":[` + asyncEvent + `]}`},
		{"GET", "/events/" + ev.ID, ""},
		{"GET", "/deliveries", ""},
		{"GET", "/deliveries/" + delivery, ""},
	}
	keys := map[string]string{"none": "", "garbage": "not-a-key", "admin": adminKey}
	walked := 0
	for _, r := range routes {
		for name, key := range keys {
			resp := (&client{base: p2.URL, key: key}).do(t, r.method, r.path, nilIfEmpty(r.body))
			checkError(t, resp, http.StatusUnauthorized, "unauthorized")
			if t.Failed() {
				t.Logf("%s %s with the %s key", r.method, r.path, name)
			}
			walked++
		}
	}
	// Another environment's key: its own data only, never the owner's.
	o := other.client
	o.base = p2.URL
	checkError(t, o.do(t, "GET", "/events/"+ev.ID, nil), http.StatusNotFound, "not_found")
	checkError(t, o.do(t, "GET", "/deliveries/"+delivery, nil), http.StatusNotFound, "not_found")
	if ds, _ := other.listDeliveries(t, "limit=200"); len(ds) != 0 {
		t.Errorf("another environment lists %d deliveries: %+v", len(ds), ds)
	}
	walked += 3
	// Admin routes refuse environment keys.
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/admin/environments", ""}, {"POST", "/admin/environments", `{"name":"sneaky"}`},
		{"DELETE", "/admin/environments/" + owner.ID, ""},
	} {
		checkError(t, (&client{base: p2.URL, key: other.key}).do(t, r.method, r.path, nilIfEmpty(r.body)), http.StatusUnauthorized, "unauthorized")
		walked++
	}
	// The owner's data is untouched, and a deletion through p1 shuts the
	// owner's key out on p2 at once (no 500, no TTL wait of seconds).
	owner.waitDelivery(t, delivery, "succeeded")
	ownerOnP2 := &client{base: p2.URL, key: owner.key}
	ownerOnP2.do(t, "GET", "/environment", nil).want(t, http.StatusOK) // p2 caches it
	p1.Admin().do(t, "DELETE", "/admin/environments/"+owner.ID, nil).want(t, http.StatusNoContent)
	waitFor(t, stateTimeout, "the deleted environment's key to be refused on the other process", func() (bool, string) {
		r := ownerOnP2.do(t, "POST", "/events", asyncEvent)
		if r.Status >= 500 {
			t.Fatalf("POST /events for an environment deleted by another process: %s, want 401", r)
		}
		return r.Status == http.StatusUnauthorized, r.String()
	})
	t.Logf("isolation: %d route × credential checks across 2 processes", walked)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
