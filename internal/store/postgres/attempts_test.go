package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
)

// A delivery whose attempts were recorded before migration 0013 (every
// one a row of attempts, nothing on the delivery's row) and that then
// gets more attempts lists each attempt once, in order: the old rows, the
// one moved off the delivery's row by the next, and the latest on it.
func TestAttemptLogAcrossMigration(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s := openOn(t, dsn)
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	url := "https://hooks.example.com/old"
	env := &herald.Environment{ID: uuid.NewString(), Name: "old", SecretKeyHash: []byte(uuid.NewString()),
		SigningKey: "k", Settings: herald.DefaultSettings(), CreatedAt: t0}
	env.Settings.PrimaryURL = &url
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	ev := herald.Event{ID: uuid.NewString(), EnvironmentID: env.ID, Type: "sync", Body: []byte(`{}`), CreatedAt: t0}
	id := uuid.NewString()
	d := herald.Delivery{ID: id, EventID: ev.ID, EnvironmentID: env.ID, Type: "sync", URL: url, CreatedAt: t0, UpdatedAt: t0,
		NextAttemptAt: &t0}
	if _, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, Now: t0,
		Events: []herald.EventRecord{{Event: ev, Deliveries: []herald.Delivery{d}}}}); err != nil {
		t.Fatal(err)
	}

	// Two attempts as the layout before 0013 stored them.
	old := []herald.Attempt{
		{Number: 1, StartedAt: t0, DurationMS: 10, Error: ptr("connection refused")},
		{Number: 2, StartedAt: t0.Add(time.Minute), DurationMS: 20, StatusCode: ptr(500), ResponseBody: ptr("oops")},
	}
	for _, a := range old {
		if _, err := db.Exec(ctx, `INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_body)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, a.Number, a.StartedAt, a.DurationMS, a.StatusCode, a.Error, a.ResponseBody); err != nil {
			t.Fatal(err)
		}
	}
	due := t0.Add(2 * time.Minute)
	if _, err := db.Exec(ctx, `UPDATE deliveries SET attempts = 2, last_status_code = 500, last_error = NULL,
		next_attempt_at = $2 WHERE id = $1`, id, due); err != nil {
		t.Fatal(err)
	}
	want := append([]herald.Attempt(nil), old...)
	check(t, s, env.ID, id, want)

	// A third attempt fails (its delivery's row holds it), a fourth
	// succeeds (the third moves to attempts).
	third := herald.Attempt{Number: 3, StartedAt: due, DurationMS: 30, StatusCode: ptr(502), ResponseBody: ptr("bad gateway")}
	next := due.Add(time.Minute)
	attempt(t, s, due, id, third, herald.StatusPending, &next)
	want = append(want, third)
	check(t, s, env.ID, id, want)

	fourth := herald.Attempt{Number: 4, StartedAt: next, DurationMS: 40, StatusCode: ptr(200), ResponseBody: ptr("ok")}
	attempt(t, s, next, id, fourth, herald.StatusSucceeded, nil)
	want = append(want, fourth)
	check(t, s, env.ID, id, want)
}

// attempt claims delivery id, due at now, and records a as its outcome.
func attempt(t *testing.T, s herald.Store, now time.Time, id string, a herald.Attempt, status string, next *time.Time) {
	t.Helper()
	ctx := context.Background()
	jobs, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: now, Limit: 10, LeaseUntil: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].DeliveryID != id || jobs[0].Attempts != a.Number-1 {
		t.Fatalf("claimed %+v, want delivery %s after %d attempts", jobs, id, a.Number-1)
	}
	j := jobs[0]
	if err := s.RecordAttempts(ctx, []herald.AttemptResult{{DeliveryID: id, LeaseGen: j.LeaseGen, EnvironmentID: j.EnvironmentID,
		URL: j.URL, Health: herald.HealthFailure, Attempt: a, Status: status, NextAttemptAt: next}}); err != nil {
		t.Fatal(err)
	}
}

// check compares the attempt log and count of delivery id with want.
func check(t *testing.T, s herald.Store, envID, id string, want []herald.Attempt) {
	t.Helper()
	d, _, got, err := s.GetDelivery(context.Background(), envID, id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Attempts != len(want) {
		t.Errorf("delivery has %d attempts, want %d", d.Attempts, len(want))
	}
	if g, w := format(got), format(want); g != w {
		t.Errorf("attempt log\n%swant\n%s", g, w)
	}
}

func format(as []herald.Attempt) string {
	var b strings.Builder
	str := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	for _, a := range as {
		code := "-"
		if a.StatusCode != nil {
			code = fmt.Sprint(*a.StatusCode)
		}
		fmt.Fprintf(&b, "#%d at %s for %d ms: %s %s %s\n", a.Number, a.StartedAt.UTC().Format(time.RFC3339Nano), a.DurationMS,
			code, str(a.Error), str(a.ResponseBody))
	}
	return b.String()
}
