package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func open(t *testing.T) herald.Store {
	t.Helper()
	return openOn(t, pgtest.DSN(t))
}

// openOn opens a store (a process) on dsn, closed at the end of the test.
func openOn(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, open)
}

// Processes that start together migrate one at a time.
func TestConcurrentMigrations(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), dsn, nil)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Work stored by one process wakes the claimer of another (Store.Wakeups).
func TestWakeupsFromAnotherProcess(t *testing.T) {
	dsn := pgtest.DSN(t)
	var stores [2]herald.Store
	for i := range stores {
		s, err := postgres.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	a, b := stores[0], stores[1]
	if b.Wakeups() == nil {
		t.Fatal("Wakeups() is nil on a shared database")
	}
	env := &herald.Environment{ID: uuid.NewString(), Name: "w", SecretKeyHash: []byte("h"), SigningKey: "k",
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	if err := a.CreateEnvironment(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	// The LISTEN connection may not be up yet: store again until b hears
	// of it, a bounded number of times.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		now := time.Now().UTC()
		ev := herald.Event{ID: uuid.NewString(), EnvironmentID: env.ID, Type: "auth", Body: []byte(`{}`), CreatedAt: now}
		d := herald.Delivery{ID: uuid.NewString(), EventID: ev.ID, EnvironmentID: env.ID, Type: "auth", URL: "http://127.0.0.1:1/",
			Status: herald.StatusPending, CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now}
		if _, err := a.Ingest(t.Context(), herald.IngestRequest{EnvironmentID: env.ID, Now: now,
			Events: []herald.EventRecord{{Event: ev, Deliveries: []herald.Delivery{d}}}}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.Wakeups():
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no wake-up after %d ingests through another store", i+1)
		}
	}
}

// A change made through one process reaches another process's cache at
// once through LISTEN/NOTIFY, not at the end of its TTL (an hour here): a
// rotated signing key, new settings, and a deletion (hardening #5).
func TestEnvironmentChangesReachOtherCaches(t *testing.T) {
	dsn := pgtest.DSN(t)
	var raw [2]*postgres.Store
	for i := range raw {
		s, err := postgres.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		raw[i] = s
	}
	a := cache.New(raw[0], cache.Options{TTL: time.Hour})
	b := cache.New(raw[1], cache.Options{TTL: time.Hour})
	env := &herald.Environment{ID: uuid.NewString(), Name: "shared", SecretKeyHash: []byte("hash-shared"), SigningKey: "k1",
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	if err := a.CreateEnvironment(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	if got, err := b.EnvironmentByKeyHash(t.Context(), env.SecretKeyHash); err != nil || got.SigningKey != "k1" {
		t.Fatalf("b's first read: %v, %v", got, err)
	}
	until := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("b never saw %s (its cache TTL is an hour: only a notification can tell it)", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := a.RotateSigningKey(t.Context(), env.ID, "k2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	until("the rotated key", func() bool {
		got, err := b.EnvironmentByID(t.Context(), env.ID)
		return err == nil && got.SigningKey == "k2"
	})
	s := env.Settings
	s.StrictValidation = true
	if err := a.UpdateSettings(t.Context(), env.ID, s); err != nil {
		t.Fatal(err)
	}
	until("the new settings", func() bool {
		got, err := b.EnvironmentByKeyHash(t.Context(), env.SecretKeyHash)
		return err == nil && got.Settings.StrictValidation
	})
	if err := a.DeleteEnvironment(t.Context(), env.ID); err != nil {
		t.Fatal(err)
	}
	until("the deletion", func() bool {
		_, err := b.EnvironmentByKeyHash(t.Context(), env.SecretKeyHash)
		return errors.Is(err, herald.ErrNotFound)
	})
}

// Writes to an integration, and to a connection whose webhook URL override
// is or was set, reach the other processes on EnvironmentChanges (their
// caches hold Environment.HasURLOverrides); other connection writes do not.
func TestRegistryWritesAnnounced(t *testing.T) {
	dsn := pgtest.DSN(t)
	var raw [2]*postgres.Store
	for i := range raw {
		s, err := postgres.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		raw[i] = s
	}
	a, b := raw[0], raw[1]
	ctx := t.Context()
	// b announces "" once its LISTEN is up: from then on it hears everything.
	select {
	case <-b.EnvironmentChanges():
	case <-time.After(10 * time.Second):
		t.Fatal("b's LISTEN connection never came up")
	}
	newEnv := func(name string) *herald.Environment {
		env := &herald.Environment{ID: uuid.NewString(), Name: name, SecretKeyHash: []byte("hash-" + name), SigningKey: "k",
			Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
		if err := a.CreateEnvironment(ctx, env); err != nil {
			t.Fatal(err)
		}
		return env
	}
	hear := func(what string) string {
		t.Helper()
		select {
		case id := <-b.EnvironmentChanges():
			return id
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: b never heard of it", what)
			return ""
		}
	}
	quiet, loud := newEnv("quiet"), newEnv("loud")
	conn := func(envID, id, override string) *herald.Connection {
		return &herald.Connection{EnvironmentID: envID, ProviderConfigKey: "github", ConnectionID: id,
			WebhookURLOverride: override, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	}
	for _, step := range []struct {
		name   string
		silent func() error // a write that must not be announced
		write  func() error // then one that must, of loud
	}{
		{"put integration", nil, func() error {
			_, err := a.PutIntegration(ctx, &herald.Integration{EnvironmentID: loud.ID, ProviderConfigKey: "github",
				Provider: "github", CreatedAt: time.Now(), UpdatedAt: time.Now()})
			return err
		}},
		{"put a connection with an override",
			func() error { _, err := a.PutConnection(ctx, conn(quiet.ID, "c1", "")); return err },
			func() error {
				_, err := a.PutConnection(ctx, conn(loud.ID, "c1", "https://a.example.com/"))
				return err
			}},
		{"clear the override",
			func() error { _, err := a.PutConnection(ctx, conn(quiet.ID, "c1", "")); return err },
			func() error { _, err := a.PutConnection(ctx, conn(loud.ID, "c1", "")); return err }},
		{"delete a connection that had an override",
			func() error { return a.DeleteConnection(ctx, quiet.ID, "github", "c1") },
			func() error {
				if _, err := a.PutConnection(ctx, conn(loud.ID, "c2", "https://b.example.com/")); err != nil {
					return err
				}
				hear("the put before the delete")
				return a.DeleteConnection(ctx, loud.ID, "github", "c2")
			}},
		{"delete integration", nil, func() error { return a.DeleteIntegration(ctx, loud.ID, "github") }},
	} {
		if step.silent != nil {
			if err := step.silent(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
		}
		if err := step.write(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if id := hear(step.name); id != loud.ID {
			t.Errorf("%s: b heard %q first, want %s (the quiet write before it is not announced)", step.name, id, loud.ID)
		}
	}
}

// Retry, recover and replay's new deliveries wake the claimers of other
// processes, as ingested ones do.
func TestOperationsWakeOtherProcesses(t *testing.T) {
	dsn := pgtest.DSN(t)
	var stores [2]*postgres.Store
	for i := range stores {
		s, err := postgres.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	a, b := stores[0], stores[1]
	ctx := t.Context()
	// b announces "" once its LISTEN is up: from then on it hears everything.
	select {
	case <-b.EnvironmentChanges():
	case <-time.After(10 * time.Second):
		t.Fatal("b's LISTEN connection never came up")
	}
	now := time.Now().UTC()
	env := &herald.Environment{ID: uuid.NewString(), Name: "w", SecretKeyHash: []byte("h"), SigningKey: "k",
		Settings: herald.DefaultSettings(), CreatedAt: now}
	if err := a.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	// Two deliveries stored claimed (which wakes no one) and failed.
	ev := herald.Event{ID: uuid.NewString(), EnvironmentID: env.ID, Type: "auth", Body: []byte(`{}`), CreatedAt: now}
	var ds []herald.Delivery
	var results []herald.AttemptResult
	for range 2 {
		d := herald.Delivery{ID: uuid.NewString(), EventID: ev.ID, EnvironmentID: env.ID, Type: "auth", URL: "http://127.0.0.1:1/",
			Status: herald.StatusSending, CreatedAt: now, UpdatedAt: now, LeaseUntil: ptr(now.Add(time.Minute))}
		ds = append(ds, d)
		results = append(results, herald.AttemptResult{DeliveryID: d.ID, LeaseGen: herald.FreshLeaseGen, Status: herald.StatusFailed,
			Attempt: herald.Attempt{Number: 1, StartedAt: now, StatusCode: ptr(500)}})
	}
	if _, err := a.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Now: now,
		Events: []herald.EventRecord{{Event: ev, Deliveries: ds}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.RecordAttempts(ctx, results); err != nil {
		t.Fatal(err)
	}
	// Other tests' processes on the server may wake b too (NOTIFY is per
	// database): this shows that each step wakes b, not that nothing else
	// does.
	select {
	case <-b.Wakeups():
	default:
	}
	for _, step := range []struct {
		name string
		op   func() error
	}{
		{"retry", func() error { _, err := a.RetryDelivery(ctx, env.ID, ds[0].ID, now); return err }},
		{"recover", func() error {
			n, err := a.RecoverDeliveries(ctx, env.ID, now.Add(-time.Hour), now.Add(time.Hour), now, 10)
			if err == nil && n != 1 {
				err = fmt.Errorf("recovered %d, want 1", n)
			}
			return err
		}},
		{"add deliveries", func() error {
			return a.AddDeliveries(ctx, env.ID, []herald.Delivery{{ID: uuid.NewString(), EventID: ev.ID, EnvironmentID: env.ID,
				Type: "auth", URL: "http://127.0.0.1:2/", Status: herald.StatusPending, CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now}})
		}},
	} {
		if err := step.op(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		select {
		case <-b.Wakeups():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: b never woke up", step.name)
		}
	}
}

func ptr[T any](v T) *T { return &v }
