package dispatch_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/nango"
)

type fixture struct {
	store *sqlite.Store
	d     *dispatch.Dispatcher
	svc   *intake.Service
	env   *herald.Environment
	stop  func()
}

// start opens a store on a real file, creates an environment with the
// given URLs, and runs a dispatcher until the test ends (or stop).
func start(t *testing.T, cfg dispatch.Config, urls ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/d.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sum := sha256.Sum256([]byte(uuid.NewString()))
	env := &herald.Environment{ID: uuid.NewString(), Name: "t", SecretKeyHash: sum[:], SigningKey: uuid.NewString(),
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	env.Settings.TimeoutMS = 1000
	if len(urls) > 0 {
		env.Settings.PrimaryURL = &urls[0]
	}
	if len(urls) > 1 {
		env.Settings.SecondaryURL = &urls[1]
	}
	if err := st.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	cfg.Client = egress.New(egress.Options{AllowPrivate: true})
	d := dispatch.New(cfg)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	f := &fixture{store: st, d: d, svc: &intake.Service{Store: st, Dispatcher: d}, env: env, stop: stop}
	waitFor(t, "dispatcher running", func() bool {
		_, ok := d.Reserve("http://probe.test/")
		if ok {
			d.Cancel("http://probe.test/")
		}
		return ok
	})
	return f
}

func (f *fixture) post(t *testing.T, n int) {
	t.Helper()
	hooks := make([]nango.Webhook, n)
	for i := range hooks {
		hooks[i] = &nango.AsyncActionWebhook{ConnectionID: fmt.Sprint("c", i), ProviderConfigKey: "p",
			Payload: nango.AsyncActionResult{ID: uuid.NewString(), StatusURL: "/action/x"}}
	}
	if _, err := f.svc.AcceptBatch(context.Background(), f.env, "", hooks); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) count(t *testing.T, status, url string) int {
	t.Helper()
	ds, err := f.store.ListDeliveries(context.Background(), f.env.ID, herald.DeliveryFilter{Status: status, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		if url == "" || d.URL == url {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hanging answers nothing until the test ends.
// hanging is a receiver that never answers; it reports the most requests
// it has held at once (retries after a timeout do not add up).
func hanging(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var inFlight, most atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &most
}

func ok(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits.Add(1)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestHangingLaneDoesNotBlockOthers(t *testing.T) {
	slow, slowHits := hanging(t)
	fast, fastHits := ok(t)
	f := start(t, dispatch.Config{LaneConcurrency: 4}, slow.URL, fast.URL)
	f.post(t, 50)
	// All 50 reach the healthy URL while the hanging one has at most its
	// lane's concurrency in flight.
	waitFor(t, "fast deliveries", func() bool { return f.count(t, herald.StatusSucceeded, fast.URL) == 50 })
	if got := fastHits.Load(); got != 50 {
		t.Fatalf("fast receiver got %d requests, want 50", got)
	}
	if got := slowHits.Load(); got > 4 {
		t.Fatalf("hanging receiver held %d requests at once, lane cap is 4", got)
	}
}

func TestLaneQueueBoundsReservations(t *testing.T) {
	slow, _ := hanging(t)
	// With little room in all, a lane gets LaneQueue.
	f := start(t, dispatch.Config{LaneConcurrency: 1, LaneQueue: 3, MaxHeld: 6})
	granted := 0
	for range 10 {
		if _, ok := f.d.Reserve(slow.URL); ok {
			granted++
		}
	}
	if granted != 3 {
		t.Fatalf("granted %d reservations, want the lane queue size 3", granted)
	}
	f.d.Cancel(slow.URL)
	if _, ok := f.d.Reserve(slow.URL); !ok {
		t.Fatal("a cancelled reservation was not given back")
	}
	for range 3 {
		f.d.Cancel(slow.URL)
	}
}

func TestLaneTakesHalfTheFreeRoom(t *testing.T) {
	f := start(t, dispatch.Config{LaneConcurrency: 1, LaneQueue: 3, MaxHeld: 100})
	reserve := func(url string) int {
		n := 0
		for range 100 {
			if _, ok := f.d.Reserve(url); ok {
				n++
			}
		}
		return n
	}
	// The first lane stops at a third of the room (it may hold half of
	// what is left), and a second lane still finds room after it.
	if n := reserve("http://a.test/"); n != 33 {
		t.Fatalf("first lane got %d reservations, want 33", n)
	}
	if n := reserve("http://b.test/"); n != 22 {
		t.Fatalf("second lane got %d reservations, want 22", n)
	}
	for range 33 {
		f.d.Cancel("http://a.test/")
	}
	for range 22 {
		f.d.Cancel("http://b.test/")
	}
}

func TestFullLaneStoresPendingAndCatchesUp(t *testing.T) {
	fast, hits := ok(t)
	// A lane queue of 5 forces most of 200 deliveries to be stored pending
	// and claimed later.
	f := start(t, dispatch.Config{LaneConcurrency: 2, LaneQueue: 5, PollInterval: 50 * time.Millisecond}, fast.URL)
	f.post(t, 200)
	waitFor(t, "all deliveries", func() bool { return f.count(t, herald.StatusSucceeded, "") == 200 })
	if got := hits.Load(); got != 200 {
		t.Fatalf("receiver got %d requests, want 200 (no duplicates)", got)
	}
}

func TestShutdownReleasesInterruptedAttempts(t *testing.T) {
	slow, slowHits := hanging(t)
	f := start(t, dispatch.Config{LaneConcurrency: 2, ShutdownGrace: 100 * time.Millisecond}, slow.URL)
	f.post(t, 5)
	waitFor(t, "attempts in flight", func() bool { return slowHits.Load() == 2 })
	f.stop()
	// Nothing was recorded as an attempt; everything is pending again.
	if got := f.count(t, herald.StatusPending, ""); got != 5 {
		t.Fatalf("%d pending after shutdown, want 5", got)
	}
	ds, _ := f.store.ListDeliveries(context.Background(), f.env.ID, herald.DeliveryFilter{Limit: 10})
	for _, d := range ds {
		if d.Attempts != 0 {
			t.Fatalf("delivery %s has %d attempts recorded after an interrupted attempt", d.ID, d.Attempts)
		}
	}
}

func TestRetriesThenFails(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "boom")
	}))
	t.Cleanup(srv.Close)
	f := start(t, dispatch.Config{}, srv.URL)
	f.post(t, 1)
	waitFor(t, "failed", func() bool { return f.count(t, herald.StatusFailed, "") == 1 })
	ds, _ := f.store.ListDeliveries(context.Background(), f.env.ID, herald.DeliveryFilter{Limit: 1})
	_, _, attempts, err := f.store.GetDelivery(context.Background(), f.env.ID, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 3 || hits.Load() != 3 {
		t.Fatalf("%d attempts logged, %d received; want 3 and 3", len(attempts), hits.Load())
	}
	for i, a := range attempts {
		if a.StatusCode == nil || *a.StatusCode != 500 || a.ResponseBody == nil || *a.ResponseBody != "boom" {
			t.Fatalf("attempt %d: %+v", i+1, a)
		}
	}
	if gap := attempts[1].StartedAt.Sub(attempts[0].StartedAt); gap < 100*time.Millisecond {
		t.Fatalf("first retry after %v, want at least 100ms", gap)
	}
	if gap := attempts[2].StartedAt.Sub(attempts[1].StartedAt); gap < 200*time.Millisecond {
		t.Fatalf("second retry after %v, want at least 200ms", gap)
	}
}

func TestBlockedDestinationIsSkipped(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/d.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The URL is loopback and private URLs are not allowed: the egress
	// guard refuses it before dialling, and the delivery is skipped
	// without retries.
	u := "http://127.0.0.1:9/never"
	sum := sha256.Sum256([]byte("k"))
	env := &herald.Environment{ID: uuid.NewString(), Name: "t", SecretKeyHash: sum[:], SigningKey: "s",
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	env.Settings.PrimaryURL = &u
	if err := st.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(dispatch.Config{Store: st, Client: egress.New(egress.Options{})})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	svc := &intake.Service{Store: st, Dispatcher: d}
	if _, err := svc.AcceptEvent(ctx, env, "", &nango.ForwardWebhook{ConnectionID: "c", ProviderConfigKey: "p", Payload: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "skipped", func() bool {
		ds, _ := st.ListDeliveries(ctx, env.ID, herald.DeliveryFilter{Status: herald.StatusSkipped, Limit: 1})
		return len(ds) == 1 && ds[0].Attempts == 1 && ds[0].LastError != nil
	})
}

// Submit gives lane room back when the commit fails or stores nothing (an
// idempotent replay), so that no misuse can leak capacity.
func TestSubmitReturnsRoomUnlessStored(t *testing.T) {
	slow, _ := hanging(t)
	f := start(t, dispatch.Config{LaneConcurrency: 1, LaneQueue: 2, MaxHeld: 4})
	records := func() []herald.EventRecord {
		now := time.Now()
		ev := herald.Event{ID: uuid.NewString(), EnvironmentID: f.env.ID, Type: "auth", Body: []byte(`{}`), CreatedAt: now}
		var ds []herald.Delivery
		for range 2 {
			ds = append(ds, herald.Delivery{ID: uuid.NewString(), EventID: ev.ID, EnvironmentID: f.env.ID, URL: slow.URL,
				Status: herald.StatusPending, CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now})
		}
		return []herald.EventRecord{{Event: ev, Deliveries: ds}}
	}
	for _, tc := range []struct {
		name   string
		stored bool
		err    error
	}{
		{"commit failed", false, errors.New("disk full")},
		{"replay stored nothing", false, nil},
	} {
		for range 5 { // more rounds than the lane has room: a leak would show
			recs := records()
			err := f.d.Submit(recs, func() (bool, error) {
				for _, d := range recs[0].Deliveries {
					if d.Status != herald.StatusSending || d.LeaseUntil == nil {
						t.Errorf("%s: delivery marked %q lease %v before the commit, want sending with a lease", tc.name, d.Status, d.LeaseUntil)
					}
				}
				return tc.stored, tc.err
			})
			if !errors.Is(err, tc.err) {
				t.Fatalf("%s: Submit = %v, want %v", tc.name, err, tc.err)
			}
		}
		granted := 0
		for range 2 {
			if _, ok := f.d.Reserve(slow.URL); ok {
				granted++
			}
		}
		if granted != 2 {
			t.Fatalf("%s: the lane has room for %d after failed submits, want its full 2", tc.name, granted)
		}
		f.d.Cancel(slow.URL)
		f.d.Cancel(slow.URL)
	}
}

// LiveLag measures what live ingests' deliveries wait, from the handoff to
// their first attempt, and leaves bulk work (SubmitBulk) out.
func TestLiveLagCountsLiveDeliveriesOnly(t *testing.T) {
	srv, hits := ok(t)
	f := start(t, dispatch.Config{}, srv.URL)
	store := func(recs []herald.EventRecord) func() (bool, error) {
		return func() (bool, error) {
			_, err := f.store.Ingest(context.Background(), herald.IngestRequest{EnvironmentID: f.env.ID, Events: recs, Now: time.Now()})
			return true, err
		}
	}
	records := func(n int) []herald.EventRecord {
		now := time.Now()
		var recs []herald.EventRecord
		for range n {
			ev := herald.Event{ID: uuid.NewString(), EnvironmentID: f.env.ID, Type: "auth", Body: []byte(`{}`), CreatedAt: now}
			recs = append(recs, herald.EventRecord{Event: ev, Deliveries: []herald.Delivery{{ID: uuid.NewString(), EventID: ev.ID,
				EnvironmentID: f.env.ID, Type: "auth", URL: srv.URL, Status: herald.StatusPending, CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now}}})
		}
		return recs
	}
	bulk := records(7)
	if err := f.d.SubmitBulk(bulk, store(bulk)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "7 bulk attempts", func() bool { return hits.Load() == 7 })
	if lag, n := f.d.LiveLag(0.99, time.Minute); n != 0 {
		t.Fatalf("LiveLag after bulk work only = %s over %d deliveries, want none", lag, n)
	}
	live := records(5)
	if err := f.d.Submit(live, store(live)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "5 live attempts", func() bool { return hits.Load() == 12 })
	lag, n := f.d.LiveLag(0.99, time.Minute)
	if n != 5 || lag <= 0 || lag > time.Minute {
		t.Fatalf("LiveLag = %s over %d deliveries, want a positive lag over 5", lag, n)
	}
	if _, n := f.d.LiveLag(0.99, -time.Second); n != 0 {
		t.Fatalf("LiveLag over an empty window counted %d deliveries", n)
	}
}
