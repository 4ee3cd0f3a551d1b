package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// A request's events and deliveries are stored in multi-row inserts of
// 64, 32, … 1 rows: every count, below, at and across those sizes, stores
// each event with each of its deliveries.
func TestIngestManyRows(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "herald.db"))
	env := newEnv(t, s, "rows")
	ctx := context.Background()
	for _, n := range []int{1, 2, 3, 7, 63, 64, 65, 100, 127, 128, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			now := time.Now().UTC().Truncate(time.Millisecond)
			req := herald.IngestRequest{EnvironmentID: env.ID, Now: now}
			for i := range n {
				urls := []string{"https://a.example.com/"}
				if i%3 == 0 {
					urls = append(urls, "https://b.example.com/")
				}
				req.Events = append(req.Events, event(t, env.ID, nil, now, urls...))
			}
			if _, err := s.Ingest(ctx, req); err != nil {
				t.Fatalf("Ingest of %d events: %v", n, err)
			}
			for _, ne := range req.Events {
				e, ds, err := s.GetEvent(ctx, env.ID, ne.Event.ID)
				if err != nil {
					t.Fatalf("GetEvent(%s): %v", ne.Event.ID, err)
				}
				if string(e.Body) != string(ne.Event.Body) || len(ds) != len(ne.Deliveries) {
					t.Fatalf("event %s: body %q, %d deliveries; want %q, %d", e.ID, e.Body, len(ds), ne.Event.Body, len(ne.Deliveries))
				}
				for i, d := range ds {
					if d.ID != ne.Deliveries[i].ID || d.URL != ne.Deliveries[i].URL || d.Status != herald.StatusPending {
						t.Errorf("delivery %d of %s: %+v, want %s to %s, pending", i, e.ID, d, ne.Deliveries[i].ID, ne.Deliveries[i].URL)
					}
				}
			}
		})
	}
}

// The ingests of one group commit are stored together, yet keep their
// place among the other operations, and one that fails fails alone: the
// group is run again one operation at a time.
func TestIngestGroupOrderAndFailure(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "herald.db"))
	ctx := context.Background()
	env, gone := newEnv(t, s, "kept"), newEnv(t, s, "gone")
	if err := s.DeleteEnvironment(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ingest := func(envID string) (herald.EventRecord, chan error) {
		ne := event(t, envID, nil, now, "https://a.example.com/")
		done := make(chan error, 1)
		go func() {
			_, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: envID, Now: now, Events: []herald.EventRecord{ne}})
			done <- err
		}()
		return ne, done
	}
	queued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); s.Queued() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("%d operations queued, want %d", s.Queued(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	release := s.HoldWriter(ctx)
	first, firstDone := ingest(env.ID)
	queued(1)
	// An operation between two runs of ingests sees the first run stored
	// and not the second.
	saw := make(chan [2]int, 1)
	between := make(chan error, 1)
	var second herald.EventRecord
	go func() {
		between <- s.WriteTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			var a, b int
			tx.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE id = ?`, first.Event.ID).Scan(&a)
			tx.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE id = ?`, second.Event.ID).Scan(&b)
			select {
			case saw <- [2]int{a, b}: // the first run: in the group
			default: // run again alone, after the group failed
			}
			return nil
		})
	}()
	queued(2)
	second, secondDone := ingest(env.ID)
	queued(3)
	_, goneDone := ingest(gone.ID)
	queued(4)
	third, thirdDone := ingest(env.ID)
	queued(5)
	release()

	for name, done := range map[string]chan error{"first": firstDone, "between": between, "second": secondDone, "third": thirdDone} {
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := <-goneDone; !errors.Is(err, herald.ErrEnvironmentDeleted) {
		t.Errorf("ingest into a deleted environment: err = %v, want ErrEnvironmentDeleted", err)
	}
	if got := <-saw; got != [2]int{1, 0} {
		t.Errorf("the operation between the ingests saw %d of the first event and %d of the second, want 1 and 0", got[0], got[1])
	}
	for _, ne := range []herald.EventRecord{first, second, third} {
		if _, ds, err := s.GetEvent(ctx, env.ID, ne.Event.ID); err != nil || len(ds) != 1 {
			t.Errorf("GetEvent(%s): %d deliveries, %v", ne.Event.ID, len(ds), err)
		}
	}
}
