package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// ClaimDue takes back expired leases, then claims up to req.Limit due
// deliveries that no other process holds, oldest due first.
func (s *Store) ClaimDue(ctx context.Context, req herald.ClaimRequest) ([]herald.Job, error) {
	exclude := req.ExcludeURLs
	if exclude == nil {
		exclude = []string{}
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = coalesce(next_attempt_at, $1)
		WHERE status = 'sending' AND lease_until < $1`, req.Now)
	b.Queue(`WITH due AS (
			SELECT id FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= $1 AND NOT (url = ANY($4))
			ORDER BY next_attempt_at LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE deliveries d SET status = 'sending', lease_until = $2, updated_at = $1
		FROM due, events e WHERE d.id = due.id AND e.id = d.event_id
		RETURNING d.id, d.event_id, d.environment_id, d.url, d.attempts, e.body`, req.Now, req.LeaseUntil, req.Limit, exclude)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("claim: reclaim expired leases: %w", wrap(err))
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("claim: %w", wrap(err))
	}
	jobs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (herald.Job, error) {
		var j herald.Job
		err := row.Scan(&j.DeliveryID, &j.EventID, &j.EnvironmentID, &j.URL, &j.Attempts, &j.Body)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", wrap(err))
	}
	return jobs, nil
}

// NextDue returns the earliest next_attempt_at among pending deliveries.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", wrap(err))
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return next.UTC(), true, nil
}

// RecordAttempts writes attempt rows and the deliveries' new states in one
// round trip. Outcomes for deliveries deleted meanwhile are dropped.
func (s *Store) RecordAttempts(ctx context.Context, results []herald.AttemptResult) error {
	n := len(results)
	ids, statuses := make([]string, n), make([]string, n)
	numbers, codes := make([]int32, n), make([]*int32, n)
	started, updated := make([]time.Time, n), make([]time.Time, n)
	durations := make([]int64, n)
	errs, bodies := make([]*string, n), make([]*string, n)
	next := make([]*time.Time, n)
	for i, r := range results {
		a := r.Attempt
		ids[i], statuses[i], numbers[i] = r.DeliveryID, r.Status, int32(a.Number)
		if a.StatusCode != nil {
			c := int32(*a.StatusCode)
			codes[i] = &c
		}
		started[i], durations[i] = a.StartedAt, a.DurationMS
		updated[i] = a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
		errs[i], bodies[i], next[i] = a.Error, a.ResponseBody, r.NextAttemptAt
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_body)
			SELECT u.* FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::int[], $6::text[], $7::text[])
				AS u(delivery_id, number, started_at, duration_ms, status_code, error, response_body)
			WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = u.delivery_id)
			ON CONFLICT (delivery_id, number) DO UPDATE SET started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
				status_code = EXCLUDED.status_code, error = EXCLUDED.error, response_body = EXCLUDED.response_body`,
			ids, numbers, started, durations, codes, errs, bodies)
		b.Queue(`UPDATE deliveries d SET status = u.status, attempts = u.number, next_attempt_at = u.next, lease_until = NULL,
				last_status_code = u.code, last_error = u.error, updated_at = u.updated
			FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::text[], $7::timestamptz[])
				AS u(id, status, number, next, code, error, updated)
			WHERE d.id = u.id`, ids, statuses, numbers, next, codes, errs, updated)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("record attempts: %w", wrap(err))
	}
	return nil
}

// RenewLeases extends the leases of deliveries this process still holds.
func (s *Store) RenewLeases(ctx context.Context, ids []string, until time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET lease_until = $1 WHERE id = ANY($2) AND status = 'sending'`, until, ids)
	if err != nil {
		return fmt.Errorf("renew leases: %w", wrap(err))
	}
	return nil
}

// Release puts claimed deliveries back to pending, due at now, and wakes
// the other processes.
func (s *Store) Release(ctx context.Context, ids []string, now time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = $1, updated_at = $1
		WHERE id = ANY($2) AND status = 'sending'`, now, ids)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("release: %w", wrap(err))
	}
	return nil
}
