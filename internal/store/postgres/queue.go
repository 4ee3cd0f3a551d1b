package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// ClaimDue takes back expired leases, then claims up to req.Limit due
// deliveries that no other process holds, oldest due first, with their
// bodies (their own, or their event's) and their event's headers, in the
// same statement.
func (s *Store) ClaimDue(ctx context.Context, req herald.ClaimRequest) ([]herald.Job, error) {
	exclude := req.ExcludeURLs
	if exclude == nil {
		exclude = []string{}
	}
	b := &pgx.Batch{}
	// Expired leases are taken back in id order, skipping rows another
	// process is writing right now (it will be their turn next time).
	b.Queue(`WITH expired AS (
			SELECT id FROM deliveries WHERE status = 'sending' AND lease_until < $1
			ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)
		UPDATE deliveries d SET status = 'pending', lease_until = NULL, next_attempt_at = coalesce(d.next_attempt_at, $1)
		FROM expired WHERE d.id = expired.id`, req.Now)
	b.Queue(`WITH due AS (
			SELECT id FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= $1 AND NOT (url = ANY($4))
			ORDER BY next_attempt_at LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE deliveries d SET status = 'sending', lease_until = $2, updated_at = $1, lease_gen = d.lease_gen + 1
		FROM due, events e WHERE d.id = due.id AND e.id = d.event_id
		RETURNING d.id, d.event_id, d.environment_id, d.url, d.attempts, coalesce(d.body, e.body), e.headers, d.lease_gen,
			d.round_start, coalesce(e.trace_parent, ''), d.type, d.connection_id`,
		req.Now, req.LeaseUntil, req.Limit, exclude)
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
		err := row.Scan(&j.DeliveryID, &j.EventID, &j.EnvironmentID, &j.URL, &j.Attempts, &j.Body, &j.Headers, &j.LeaseGen,
			&j.RoundStart, &j.TraceParent, &j.EventType, &j.ConnectionID)
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
	ids, statuses, gens := make([]string, n), make([]string, n), make([]int64, n)
	numbers, codes := make([]int32, n), make([]*int32, n)
	started, updated := make([]time.Time, n), make([]time.Time, n)
	durations := make([]int64, n)
	errs, bodies := make([]*string, n), make([]*string, n)
	next := make([]*time.Time, n)
	for i, r := range results {
		a := r.Attempt
		ids[i], statuses[i], numbers[i], gens[i] = r.DeliveryID, r.Status, int32(a.Number), r.LeaseGen
		if a.StatusCode != nil {
			c := int32(*a.StatusCode)
			codes[i] = &c
		}
		started[i], durations[i] = a.StartedAt, a.DurationMS
		updated[i] = a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
		errs[i], bodies[i], next[i] = a.Error, a.ResponseBody, r.NextAttemptAt
	}
	// One statement: lock the deliveries still held under these lease
	// generations, in id order (so that processes never deadlock), then
	// write the attempts and the new states of those alone. A result whose
	// lease was taken over by another claim, or whose delivery was
	// deleted, writes nothing.
	_, err := s.pool.Exec(ctx, `WITH u AS (
			SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::int[], $6::text[], $7::text[],
				$8::bigint[], $9::text[], $10::timestamptz[], $11::timestamptz[])
				AS u(id, number, started_at, duration_ms, code, error, response_body, gen, status, next, updated)),
		held AS (
			SELECT d.id, d.lease_gen AS gen FROM deliveries d JOIN u ON d.id = u.id AND d.lease_gen = u.gen
			ORDER BY d.id FOR NO KEY UPDATE OF d),
		ins AS (
			INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_body)
			SELECT u.id, u.number, u.started_at, u.duration_ms, u.code, u.error, u.response_body FROM u JOIN held USING (id, gen)
			ON CONFLICT (delivery_id, number) DO UPDATE SET started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
				status_code = EXCLUDED.status_code, error = EXCLUDED.error, response_body = EXCLUDED.response_body)
		UPDATE deliveries d SET status = u.status, attempts = u.number, next_attempt_at = u.next, lease_until = NULL,
			last_status_code = u.code, last_error = u.error, updated_at = u.updated
		FROM u JOIN held USING (id, gen) WHERE d.id = u.id`,
		ids, numbers, started, durations, codes, errs, bodies, gens, statuses, next, updated)
	if err != nil {
		return fmt.Errorf("record attempts: %w", wrap(err))
	}
	return nil
}

// RenewLeases extends the leases of deliveries this process still holds.
func (s *Store) RenewLeases(ctx context.Context, leases []herald.Lease, until time.Time) error {
	ids, gens := leaseArrays(leases)
	_, err := s.pool.Exec(ctx, `WITH held AS (
			SELECT d.id FROM deliveries d JOIN unnest($2::text[], $3::bigint[]) AS u(id, gen) ON d.id = u.id AND d.lease_gen = u.gen
			WHERE d.status = 'sending' ORDER BY d.id FOR NO KEY UPDATE OF d)
		UPDATE deliveries d SET lease_until = $1 FROM held WHERE d.id = held.id`, until, ids, gens)
	if err != nil {
		return fmt.Errorf("renew leases: %w", wrap(err))
	}
	return nil
}

// Release puts claimed deliveries back to pending, due at now, and wakes
// the other processes.
func (s *Store) Release(ctx context.Context, leases []herald.Lease, now time.Time) error {
	ids, gens := leaseArrays(leases)
	b := &pgx.Batch{}
	b.Queue(`WITH held AS (
			SELECT d.id FROM deliveries d JOIN unnest($2::text[], $3::bigint[]) AS u(id, gen) ON d.id = u.id AND d.lease_gen = u.gen
			WHERE d.status = 'sending' ORDER BY d.id FOR NO KEY UPDATE OF d)
		UPDATE deliveries d SET status = 'pending', lease_until = NULL, next_attempt_at = $1, updated_at = $1
		FROM held WHERE d.id = held.id`, now, ids, gens)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("release: %w", wrap(err))
	}
	return nil
}
