package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) herald.Store {
		return open(t, filepath.Join(t.TempDir(), "herald.db"))
	})
}

// open opens path and closes it at the end of the test.
func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func newEnv(t testing.TB, s herald.Store, name string) *herald.Environment {
	t.Helper()
	sum := sha256.Sum256([]byte(uuid.NewString()))
	env := &herald.Environment{ID: newID(t), Name: name, SecretKeyHash: sum[:], SigningKey: uuid.NewString(),
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	if err := s.CreateEnvironment(context.Background(), env); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	return env
}

// event builds an event with one delivery per URL, due at due.
func event(t testing.TB, envID string, body []byte, due time.Time, urls ...string) herald.EventRecord {
	t.Helper()
	id := newID(t)
	if body == nil {
		body = []byte(`{"type":"sync","id":"` + id + `"}`)
	}
	ne := herald.EventRecord{Event: herald.Event{ID: id, EnvironmentID: envID, Type: "sync", ConnectionID: "c", ProviderConfigKey: "p",
		Body: body, CreatedAt: due}}
	for _, u := range urls {
		next := due
		ne.Deliveries = append(ne.Deliveries, herald.Delivery{ID: newID(t), EventID: id, EnvironmentID: envID, Type: "sync",
			ConnectionID: "c", ProviderConfigKey: "p", URL: u, Status: herald.StatusPending, CreatedAt: due, UpdatedAt: due, NextAttemptAt: &next})
	}
	return ne
}

// TestCrashRecovery: deliveries a process left "sending" (claimed, never
// recorded, then the process died) are pending again when the file is
// reopened, and claimable.
func TestCrashRecovery(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, s, "prod")
	now := time.Now()
	ne := event(t, env.ID, nil, now.Add(-time.Second), "https://a.example.com/", "https://b.example.com/")
	later := event(t, env.ID, nil, now.Add(time.Hour), "https://a.example.com/")
	// Stored already claimed by a lane, the way intake hands fresh
	// deliveries straight to the dispatcher.
	reserved := event(t, env.ID, nil, now, "https://c.example.com/")
	lease := now.Add(time.Hour)
	reserved.Deliveries[0].Status, reserved.Deliveries[0].LeaseUntil = herald.StatusSending, &lease
	if _, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: []herald.EventRecord{ne, later, reserved}, Now: now}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: now, Limit: 10, LeaseUntil: now.Add(time.Hour)})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("ClaimDue = %d jobs, %v; want 2", len(jobs), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	for _, d := range append(slices.Clone(ne.Deliveries), reserved.Deliveries...) {
		got, _, _, err := s.GetDelivery(ctx, env.ID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != herald.StatusPending || got.Attempts != 0 || got.NextAttemptAt == nil || got.NextAttemptAt.After(time.Now()) {
			t.Errorf("after reopening, delivery %s is %q (attempts %d, next %v); want pending and due", d.ID, got.Status, got.Attempts, got.NextAttemptAt)
		}
	}
	if got, _, _, err := s.GetDelivery(ctx, env.ID, later.Deliveries[0].ID); err != nil || got.Status != herald.StatusPending ||
		got.NextAttemptAt == nil || got.NextAttemptAt.UnixMilli() != now.Add(time.Hour).UnixMilli() {
		t.Errorf("a delivery not yet due changed on reopening: %+v, %v", got, err)
	}
	jobs, err = s.ClaimDue(ctx, herald.ClaimRequest{Now: time.Now(), Limit: 10, LeaseUntil: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.DeliveryID)
		if j.Attempts != 0 || (string(j.Body) != string(ne.Event.Body) && string(j.Body) != string(reserved.Event.Body)) {
			t.Errorf("recovered job %+v", j)
		}
	}
	want := []string{ne.Deliveries[0].ID, ne.Deliveries[1].ID, reserved.Deliveries[0].ID}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("claimed %v after reopening, want %v", got, want)
	}
}

// TestCrashRecoveryKeepsFinished: reopening touches only "sending" rows.
func TestCrashRecoveryKeepsFinished(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, s, "prod")
	now := time.Now()
	ne := event(t, env.ID, nil, now.Add(-time.Second), "https://a.example.com/", "https://b.example.com/")
	if _, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: []herald.EventRecord{ne}, Now: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: now, Limit: 10, LeaseUntil: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	code := 200
	if err := s.RecordAttempts(ctx, []herald.AttemptResult{{DeliveryID: ne.Deliveries[0].ID, LeaseGen: 1, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 1, StartedAt: now, DurationMS: 3, StatusCode: &code}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	for i, want := range []string{herald.StatusSucceeded, herald.StatusPending} {
		got, _, _, err := s.GetDelivery(ctx, env.ID, ne.Deliveries[i].ID)
		if err != nil || got.Status != want {
			t.Errorf("delivery %d after reopening: %+v, %v; want %s", i, got, err, want)
		}
	}
}

// TestMigrationsIdempotent opens the same file several times: the schema is
// applied once and the data stays.
func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	var env *herald.Environment
	for i := range 3 {
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if i == 0 {
			env = newEnv(t, s, "prod")
		}
		envs, err := s.ListEnvironments(ctx)
		if err != nil || len(envs) != 1 || envs[0].ID != env.ID {
			t.Errorf("Open #%d: environments %+v, %v; want the one created first", i+1, envs, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, distinct int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	migrations, _ := filepath.Glob("migrations/*.sql")
	if n != len(migrations) || distinct != n {
		t.Errorf("schema_migrations has %d rows (%d versions), want one per migration file (%d)", n, distinct, len(migrations))
	}
}

func TestWALMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s := open(t, path)
	newEnv(t, s, "prod")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no write-ahead log next to the database: %v", err)
	}
}

// TestOpenPathWithSpecialCharacters: the path is a file name, not a URI.
// Characters that mean something in a URI ('#', '?', '%') must not change
// which file is opened or drop the connection's pragmas.
func TestOpenPathWithSpecialCharacters(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"data#1.db", "data#2.db", "data%41.db", "what?.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			s := open(t, path)
			env := newEnv(t, s, "env")
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file not at %s: %v", path, err)
			}
			envs, err := s.ListEnvironments(context.Background())
			if err != nil || len(envs) != 1 || envs[0].ID != env.ID {
				t.Errorf("store at %s sees %d environments (%v), want only its own", path, len(envs), err)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Logf("files created: %q", names)
}

// TestCloseIdempotent: Close twice is fine, and every method called after
// Close returns an error promptly instead of panicking or hanging.
func TestCloseIdempotent(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, s, "prod")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	ctx := context.Background()
	now := time.Now()
	calls := []struct {
		name string
		fn   func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"CreateEnvironment", func() error {
			e := *env
			e.ID, e.Name, e.SecretKeyHash = newID(t), "other-"+uuid.NewString()[:8], []byte(uuid.NewString())
			return s.CreateEnvironment(ctx, &e)
		}},
		{"ListEnvironments", func() error { _, err := s.ListEnvironments(ctx); return err }},
		{"EnvironmentByID", func() error { _, err := s.EnvironmentByID(ctx, env.ID); return err }},
		{"EnvironmentByKeyHash", func() error { _, err := s.EnvironmentByKeyHash(ctx, env.SecretKeyHash); return err }},
		{"UpdateSettings", func() error { return s.UpdateSettings(ctx, env.ID, herald.DefaultSettings()) }},
		{"RotateSigningKey", func() error { return s.RotateSigningKey(ctx, env.ID, uuid.NewString(), now) }},
		{"DeleteEnvironment", func() error { return s.DeleteEnvironment(ctx, env.ID) }},
		{"Ingest", func() error {
			_, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: []herald.EventRecord{event(t, env.ID, nil, now, "https://a.example.com/")}, Now: now})
			return err
		}},
		{"GetEvent", func() error { _, _, err := s.GetEvent(ctx, env.ID, newID(t)); return err }},
		{"ListDeliveries", func() error { _, err := s.ListDeliveries(ctx, env.ID, herald.DeliveryFilter{Limit: 10}); return err }},
		{"GetDelivery", func() error { _, _, _, err := s.GetDelivery(ctx, env.ID, newID(t)); return err }},
		{"ClaimDue", func() error {
			_, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: now, Limit: 10, LeaseUntil: now.Add(time.Minute)})
			return err
		}},
		{"NextDue", func() error { _, _, err := s.NextDue(ctx); return err }},
		{"RecordAttempts", func() error {
			return s.RecordAttempts(ctx, []herald.AttemptResult{{DeliveryID: newID(t), Status: herald.StatusFailed,
				Attempt: herald.Attempt{Number: 1, StartedAt: now}}})
		}},
		{"RenewLeases", func() error { return s.RenewLeases(ctx, []herald.Lease{{DeliveryID: newID(t), Gen: 1}}, now) }},
		{"Release", func() error { return s.Release(ctx, []herald.Lease{{DeliveryID: newID(t), Gen: 1}}, now) }},
		{"AddAdminKeyHash", func() error { return s.AddAdminKeyHash(ctx, []byte("h")) }},
		{"AdminKeyHashes", func() error { _, err := s.AdminKeyHashes(ctx); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			// Several times: a bug that depends on which ready select case
			// Go picks shows up in about half of the calls.
			for i := range 8 {
				ok, err := callWithin(3*time.Second, c.fn)
				if !ok {
					t.Fatalf("call %d after Close did not return within 3s", i+1)
				}
				if err == nil {
					t.Fatalf("call %d after Close succeeded, want an error", i+1)
				}
			}
		})
	}
}

// callWithin runs fn, turning a panic into an error; ok is false when fn has
// not returned within d (its goroutine is then abandoned).
func callWithin(d time.Duration, fn func() error) (ok bool, err error) {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- fn()
	}()
	select {
	case err := <-done:
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// TestCloseWhileWriting closes the store under a stream of concurrent
// ingests: every call returns, and every ingest that reported success is in
// the file when it is opened again.
func TestCloseWhileWriting(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, s, "prod")

	var mu sync.Mutex
	var stored []herald.EventRecord
	var wg sync.WaitGroup
	var started atomic.Int64
	hung := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			for {
				ne := event(t, env.ID, nil, time.Now(), "https://a.example.com/")
				ok, err := callWithin(10*time.Second, func() error {
					_, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: []herald.EventRecord{ne}, Now: time.Now()})
					return err
				})
				if !ok {
					select {
					case hung <- struct{}{}:
					default:
					}
					return
				}
				if err != nil {
					return
				}
				started.Add(1)
				mu.Lock()
				stored = append(stored, ne)
				mu.Unlock()
			}
		})
	}
	for started.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	if ok, err := callWithin(10*time.Second, s.Close); !ok || err != nil {
		t.Fatalf("Close under load = %v (returned: %v)", err, ok)
	}
	wg.Wait()
	select {
	case <-hung:
		t.Fatal("an Ingest racing with Close never returned")
	default:
	}

	s = open(t, path)
	for _, ne := range stored {
		if _, _, err := s.GetEvent(ctx, env.ID, ne.Event.ID); err != nil {
			t.Errorf("event %s was reported stored but is not in the file: %v", ne.Event.ID, err)
		}
	}
	t.Logf("%d ingests succeeded before Close", len(stored))
}

// BenchmarkIngest stores b.N events of about 500 bytes with one delivery
// each, from 32 goroutines at once: group commit turns them into far fewer
// transactions. The 1-goroutine run is the baseline of one commit per event.
func BenchmarkIngest(b *testing.B) {
	for _, workers := range []int{32, 1} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) { benchmarkIngest(b, workers) })
	}
}

func benchmarkIngest(b *testing.B, workers int) {
	s := open(b, filepath.Join(b.TempDir(), "herald.db"))
	env := newEnv(b, s, "bench")
	pad := make([]byte, 400)
	for i := range pad {
		pad[i] = 'a' + byte(i%26)
	}
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Value
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				now := time.Now()
				id := uuid.Must(uuid.NewV7()).String()
				body := fmt.Appendf(nil, `{"connectionId":"conn-42","from":"nango","model":"Issue","pad":"%s","providerConfigKey":"github","syncName":"issues","type":"sync","x":"%s"}`, pad, id)
				ne := event(b, env.ID, body, now, "https://hooks.example.com/herald")
				if _, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: []herald.EventRecord{ne}, Now: now}); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkClaimRecord measures the dispatcher's side: per operation, claim
// 1,000 due deliveries and record 1,000 outcomes, counted toward their
// endpoint (health=true, as the dispatcher records them) or not.
func BenchmarkClaimRecord(b *testing.B) {
	for _, health := range []bool{true, false} {
		b.Run(fmt.Sprintf("health=%v", health), func(b *testing.B) { benchmarkClaimRecord(b, health) })
	}
}

func benchmarkClaimRecord(b *testing.B, health bool) {
	const batch = 1000
	s := open(b, filepath.Join(b.TempDir(), "herald.db"))
	env := newEnv(b, s, "bench")
	ctx := context.Background()
	body := make([]byte, 500)
	for i := range body {
		body[i] = 'x'
	}
	code := 200
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		now := time.Now()
		events := make([]herald.EventRecord, batch)
		for i := range events {
			events[i] = event(b, env.ID, body, now, "https://hooks.example.com/herald")
		}
		if _, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: events, Now: now}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		jobs, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: now, Limit: batch, LeaseUntil: now.Add(time.Minute)})
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) != batch {
			b.Fatalf("claimed %d, want %d", len(jobs), batch)
		}
		results := make([]herald.AttemptResult, len(jobs))
		for i, j := range jobs {
			results[i] = herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen, Status: herald.StatusSucceeded,
				Attempt: herald.Attempt{Number: 1, StartedAt: now, DurationMS: 12, StatusCode: &code}}
			if health {
				results[i].EnvironmentID, results[i].URL, results[i].Health = j.EnvironmentID, j.URL, herald.HealthSuccess
			}
		}
		if err := s.RecordAttempts(ctx, results); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
}

// One process owns a SQLite file: there is no one else to hear from.
func TestNoWakeups(t *testing.T) {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Wakeups() != nil {
		t.Fatal("Wakeups() is not nil")
	}
}

// A second Store on the same file is refused at once, and the file is free
// again once the first is closed (hardening #7).
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	first, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(t.Context(), path, sqlite.Options{}); !errors.Is(err, sqlite.ErrLocked) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("second Open = %v, want sqlite.ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

// TestAttemptLogAcrossMigration: a delivery whose attempts were all
// written as attempt rows (before migration 0014 kept the latest on the
// delivery's row) lists each of them once, in order, after one more.
func TestAttemptLogAcrossMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	s := open(t, path)
	env := newEnv(t, s, "prod")
	now := time.Now().Truncate(time.Millisecond)
	ne := event(t, env.ID, nil, now, "https://a.example.com/")
	id := ne.Deliveries[0].ID
	if _, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: []herald.EventRecord{ne}, Now: now}); err != nil {
		t.Fatal(err)
	}
	attempt := func(n int, status string, next *time.Time) {
		t.Helper()
		jobs, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: now.Add(time.Duration(n) * time.Minute), Limit: 10,
			LeaseUntil: now.Add(time.Hour)})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim for attempt %d: %d jobs, %v", n, len(jobs), err)
		}
		code := 500 + n
		if err := s.RecordAttempts(ctx, []herald.AttemptResult{{DeliveryID: id, LeaseGen: jobs[0].LeaseGen, Status: status,
			NextAttemptAt: next, Attempt: herald.Attempt{Number: n, StartedAt: now.Add(time.Duration(n) * time.Minute),
				DurationMS: int64(n), StatusCode: &code}}}); err != nil {
			t.Fatal(err)
		}
	}
	due := now.Add(2 * time.Minute)
	attempt(1, herald.StatusPending, &due)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What the store wrote before migration 0014: the attempt as a row of
	// attempts, nothing of it on the delivery.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code) SELECT id, attempts, last_started_at,
			last_duration_ms, last_status_code FROM deliveries WHERE id = ?`,
		`UPDATE deliveries SET last_started_at = NULL, last_duration_ms = NULL, last_response_body = NULL WHERE id = ?`,
	} {
		if _, err := db.Exec(q, id); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s = open(t, path)
	due = now.Add(3 * time.Minute)
	attempt(2, herald.StatusPending, &due)
	attempt(3, herald.StatusFailed, nil)
	_, _, attempts, err := s.GetDelivery(ctx, env.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range attempts {
		got = append(got, fmt.Sprintf("#%d %d %s", a.Number, *a.StatusCode, a.StartedAt.Sub(now)))
	}
	want := []string{"#1 501 1m0s", "#2 502 2m0s", "#3 503 3m0s"}
	if !slices.Equal(got, want) {
		t.Errorf("attempt log %q, want %q", got, want)
	}
}
