package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// requeue makes deliveries (d) pending again for a new round of attempts,
// due at $1 (also their updated_at): their attempts so far are the
// round's start, and their lease generation moves on, so an outcome of
// the previous round written late is dropped.
const requeue = `UPDATE deliveries d SET status = 'pending', next_attempt_at = $1, updated_at = $1, round_start = d.attempts,
	lease_until = NULL, lease_gen = d.lease_gen + 1`

// RetryDelivery makes a finished delivery of envID pending again at now,
// in one statement, and wakes the other processes' claimers.
func (s *Store) RetryDelivery(ctx context.Context, envID, id string, now time.Time) (*herald.Delivery, error) {
	b := &pgx.Batch{}
	b.Queue(requeue+` WHERE d.id = $2 AND d.environment_id = $3 AND d.status IN ('succeeded', 'failed', 'skipped')
		AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.body_pruned)
		RETURNING `+deliveryCols, now, id, envID)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	br := s.pool.SendBatch(ctx, b)
	d, err := scanDelivery(br.QueryRow())
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("retry delivery: %w", wrap(cerr))
	}
	switch {
	case err == nil:
		return d, nil
	case !errors.Is(err, herald.ErrNotFound):
		return nil, err
	}
	// Nothing changed: say why.
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1 AND environment_id = $2)`,
		id, envID).Scan(&exists); err != nil {
		return nil, fmt.Errorf("retry delivery: %w", wrap(err))
	}
	if exists {
		return nil, herald.ErrConflict
	}
	return nil, herald.ErrNotFound
}

// RecoverDeliveries makes up to limit failed deliveries of envID created
// in [since, until) pending again, due at at, oldest first, in one
// statement, and wakes the other processes' claimers. The window is a
// range of the deliveries_failed index, read in its order (created_at,
// id); rows another transaction holds (a retry of the same delivery) are
// skipped.
func (s *Store) RecoverDeliveries(ctx context.Context, envID string, since, until, at time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	b := &pgx.Batch{}
	b.Queue(`WITH picked AS (
			SELECT id FROM deliveries
			WHERE environment_id = $2 AND status = 'failed' AND created_at >= $3 AND created_at < $4
			AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id AND e.body_pruned)
			ORDER BY created_at, id LIMIT $5
			FOR NO KEY UPDATE SKIP LOCKED)
		`+requeue+` FROM picked WHERE d.id = picked.id`, at, envID, since, until, limit)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	br := s.pool.SendBatch(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("recover deliveries: %w", wrap(err))
	}
	return int(tag.RowsAffected()), nil
}

// ReplaySources returns events of envID selected by f, oldest first after
// `after`, with their bodies, fates and sends: one query for the events
// (events_environment, in id order), one for their deliveries.
func (s *Store) ReplaySources(ctx context.Context, envID string, f herald.EventFilter, after string, limit int) ([]herald.ReplaySource, error) {
	f.Cursor = ""
	where, args := eventWhere(envID, f)
	where += " AND NOT body_pruned" // a pruned body cannot be sent again
	if after != "" {
		args = append(args, after)
		where += fmt.Sprintf(" AND id > $%d", len(args))
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT `+eventCols+`, body, coalesce(trace_parent, '') FROM events WHERE %s ORDER BY id LIMIT $%d`,
		where, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("replay sources: %w", wrap(err))
	}
	out := []herald.ReplaySource{}
	at := map[string]int{}
	for rows.Next() {
		var body []byte
		var traceParent string
		e, err := scanEvent(rows, &body, &traceParent)
		if err != nil {
			rows.Close()
			return nil, err
		}
		e.Body, e.TraceParent = body, traceParent
		at[e.ID] = len(out)
		out = append(out, herald.ReplaySource{Event: *e})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay sources: %w", wrap(err))
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]string, len(out))
	for i, src := range out {
		ids[i] = src.Event.ID
	}
	// Each (connection, body) pair once per status: the pairs become the
	// sends, the statuses the fate. Connection ids are ordered byte-wise,
	// and a NULL body (the event's) first, as on SQLite.
	rows, err = s.pool.Query(ctx, `SELECT DISTINCT event_id, connection_id COLLATE "C" AS conn, body, status FROM deliveries
		WHERE event_id = ANY($1) ORDER BY event_id, conn, body NULLS FIRST`, ids)
	if err != nil {
		return nil, fmt.Errorf("replay sources: deliveries: %w", wrap(err))
	}
	defer rows.Close()
	statuses := make(map[string][]string, len(out))
	for rows.Next() {
		var id, conn, status string
		var body []byte
		if err := rows.Scan(&id, &conn, &body, &status); err != nil {
			return nil, fmt.Errorf("replay sources: deliveries: %w", wrap(err))
		}
		statuses[id] = append(statuses[id], status)
		src := &out[at[id]]
		if n := len(src.Sends); n > 0 && src.Sends[n-1].ConnectionID == conn && sameBody(src.Sends[n-1].Body, body) {
			continue
		}
		src.Sends = append(src.Sends, herald.ReplaySend{ConnectionID: conn, Body: body})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay sources: deliveries: %w", wrap(err))
	}
	for i := range out {
		out[i].Event.Status = herald.EventFate(statuses[out[i].Event.ID])
	}
	return out, nil
}

// sameBody tells whether two delivery bodies are the same, nil (the
// event's) differing from any stored body.
func sameBody(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// AddDeliveries stores new deliveries of existing events of envID in one
// transaction, or nothing when one of the events is not envID's, and
// wakes the other processes' claimers.
func (s *Store) AddDeliveries(ctx context.Context, envID string, ds []herald.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	var rows deliveryRows
	notify := false
	for _, d := range ds {
		d.EnvironmentID = envID
		notify = rows.add(&d) || notify
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		// Only deliveries of envID's events are inserted: one short means
		// an event that is not envID's (or deleted meanwhile), and the
		// transaction is undone. The events are locked until the commit,
		// so that neither PruneDeliveries nor DeleteEnvironment deletes
		// one under its new deliveries (migration 0015).
		b.Queue(insertDeliveries+`
			WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = u.event_id AND e.environment_id = u.environment_id
				FOR KEY SHARE)`,
			rows.args()...)
		if notify {
			b.Queue(`SELECT pg_notify($1, '')`, Channel)
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(len(ds)) {
			return herald.ErrNotFound
		}
		return br.Close()
	})
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return err
	case err != nil:
		return fmt.Errorf("add deliveries: %w", wrap(err))
	}
	return nil
}

// ClaimOnce records key for envID unless it was recorded less than window
// before now, in the idempotency keys' table (with no answer), in one
// statement.
func (s *Store) ClaimOnce(ctx context.Context, envID, key string, window time.Duration, now time.Time) (bool, error) {
	var claimed bool
	err := s.pool.QueryRow(ctx, `INSERT INTO idempotency_keys (environment_id, key, response, request_hash, created_at)
		VALUES ($1, $2, '\x', '\x', $3)
		ON CONFLICT (environment_id, key) DO UPDATE SET response = EXCLUDED.response,
			request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at
		WHERE idempotency_keys.created_at <= $4
		RETURNING true`, envID, key, now, now.Add(-window)).Scan(&claimed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case isForeignKey(err):
		return false, herald.ErrEnvironmentDeleted
	case err != nil:
		return false, fmt.Errorf("claim once: %w", wrap(err))
	}
	return claimed, nil
}

// CountReplay counts the events of envID that ReplaySources would return
// for f.
func (s *Store) CountReplay(ctx context.Context, envID string, f herald.EventFilter) (int, error) {
	f.Cursor = ""
	where, args := eventWhere(envID, f)
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE `+where+` AND NOT body_pruned`, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count replay: %w", wrap(err))
	}
	return n, nil
}
