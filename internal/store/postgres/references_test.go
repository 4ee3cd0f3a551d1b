package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/postgres"
)

// Ingests racing with the deletion of their environment, through two
// stores (two processes): each either stored its event before the
// deletion, which then removes it, or fails with ErrEnvironmentDeleted;
// none leaves an event or a delivery behind (no foreign key guards them
// since migration 0015).
func TestDeleteEnvironmentDuringIngest(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	stores := [2]*postgres.Store{openOn(t, dsn), openOn(t, dsn)}
	env := &herald.Environment{ID: uuid.NewString(), Name: "doomed", SecretKeyHash: []byte(uuid.NewString()),
		SigningKey: "k", Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	if err := stores[0].CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	var stored atomic.Int64
	enough, deleted := make(chan struct{}), make(chan struct{})
	var once sync.Once
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			s := stores[g%2]
			// Until the deletion refuses an ingest, which it must within
			// a few once it is done.
			after := 0
			for {
				select {
				case <-deleted:
					if after++; after > 20 {
						errs <- errors.New("ingests still stored after the deletion")
						return
					}
				default:
				}
				now := time.Now().UTC()
				ev := herald.Event{ID: uuid.NewString(), EnvironmentID: env.ID, Type: "sync", Body: []byte(`{}`), CreatedAt: now}
				d := herald.Delivery{ID: uuid.NewString(), EventID: ev.ID, EnvironmentID: env.ID, Type: "sync",
					URL: "https://hooks.example.com/x", CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now}
				_, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Now: now,
					Events: []herald.EventRecord{{Event: ev, Deliveries: []herald.Delivery{d}}}})
				if err != nil {
					errs <- err
					return
				}
				if stored.Add(1) >= 50 {
					once.Do(func() { close(enough) })
				}
			}
		})
	}
	<-enough
	err := stores[1].DeleteEnvironment(ctx, env.ID)
	close(deleted)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		if !errors.Is(err, herald.ErrEnvironmentDeleted) {
			t.Errorf("ingest: %v, want ErrEnvironmentDeleted", err)
		}
	}
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var events, deliveries int
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE environment_id = $1),
		(SELECT count(*) FROM deliveries WHERE environment_id = $1)`, env.ID).Scan(&events, &deliveries); err != nil {
		t.Fatal(err)
	}
	if events != 0 || deliveries != 0 {
		t.Errorf("%d events and %d deliveries of the deleted environment left (%d ingests stored)", events, deliveries, stored.Load())
	}
}
