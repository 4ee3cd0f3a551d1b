package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/internal/store/storetest"
)

func open(t *testing.T) herald.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.DSN(t), nil)
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
