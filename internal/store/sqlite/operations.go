package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
)

// requeue makes a delivery pending again for a new round of attempts, due
// at the first argument (also its updated_at, the second): its attempts
// so far are the round's start, and its lease generation moves on, so an
// outcome of its previous round written late is dropped.
const requeue = `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?, round_start = attempts,
	lease_until = NULL, lease_gen = lease_gen + 1`

// notPruned keeps a statement on deliveries to those whose event's body
// was not pruned (PruneBodies): they can no longer be sent again.
const notPruned = ` AND NOT EXISTS (SELECT 1 FROM events WHERE events.id = deliveries.event_id AND events.body_pruned = 1)`

// RetryDelivery makes a finished delivery of envID pending again at now.
func (s *Store) RetryDelivery(ctx context.Context, envID, id string, now time.Time) (*herald.Delivery, error) {
	var d *herald.Delivery
	var refused error // nothing written: the group commit goes on
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		d, refused = nil, nil
		var err error
		d, err = scanDelivery(tx.QueryRowContext(ctx, requeue+`
			WHERE id = ? AND environment_id = ? AND status IN ('succeeded', 'failed', 'skipped')`+notPruned+`
			RETURNING `+deliveryCols, ms(now), ms(now), id, envID))
		if !errors.Is(err, herald.ErrNotFound) {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE id = ? AND environment_id = ?`,
			id, envID).Scan(&n); err != nil {
			return fmt.Errorf("retry delivery: %w", unavailable(err))
		}
		refused = herald.ErrNotFound
		if n > 0 {
			refused = herald.ErrConflict
		}
		return nil
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// RecoverDeliveries makes up to limit failed deliveries of envID created
// in [since, until) pending again, due at at, oldest first, in one
// statement: the window is a range of the deliveries_failed index, read
// in its order (created_at, id).
func (s *Store) RecoverDeliveries(ctx context.Context, envID string, since, until, at time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, requeue+`
			WHERE id IN (SELECT id FROM deliveries
				WHERE environment_id = ? AND status = 'failed' AND created_at >= ? AND created_at < ?`+notPruned+`
				ORDER BY created_at, id LIMIT ?)`, ms(at), ms(at), envID, ms(since), ms(until), limit)
		if err != nil {
			return fmt.Errorf("recover deliveries: %w", unavailable(err))
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// ReplaySources returns events of envID selected by f, oldest first after
// `after`, with their bodies, fates and sends: one query for the events
// (events_environment, in id order), one for their deliveries.
func (s *Store) ReplaySources(ctx context.Context, envID string, f herald.EventFilter, after string, limit int) ([]herald.ReplaySource, error) {
	f.Cursor = ""
	where, args := eventWhere(envID, f)
	where += " AND body_pruned = 0" // a pruned body cannot be sent again
	if after != "" {
		where += " AND id > ?"
		args = append(args, after)
	}
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventCols+`, body, coalesce(trace_parent, '') FROM events WHERE `+where+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("replay sources: %w", unavailable(err))
	}
	defer rows.Close()
	out := []herald.ReplaySource{}
	at := map[string]int{}
	for rows.Next() {
		var body []byte
		var traceParent string
		e, err := scanEvent(rows, &body, &traceParent)
		if err != nil {
			return nil, err
		}
		e.Body, e.TraceParent = body, traceParent
		at[e.ID] = len(out)
		out = append(out, herald.ReplaySource{Event: *e})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay sources: %w", unavailable(err))
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]any, len(out))
	for i, src := range out {
		ids[i] = src.Event.ID
	}
	// Each (connection, body) pair once per status: the pairs become the
	// sends, the statuses the fate.
	rows, err = s.r.QueryContext(ctx, `SELECT DISTINCT event_id, connection_id, body, status FROM deliveries
		WHERE event_id IN (`+placeholders(len(ids), "?")+`) ORDER BY event_id, connection_id, body`, ids...)
	if err != nil {
		return nil, fmt.Errorf("replay sources: deliveries: %w", unavailable(err))
	}
	defer rows.Close()
	statuses := make(map[string][]string, len(out))
	for rows.Next() {
		var id, conn, status string
		var body []byte
		if err := rows.Scan(&id, &conn, &body, &status); err != nil {
			return nil, fmt.Errorf("replay sources: deliveries: %w", unavailable(err))
		}
		statuses[id] = append(statuses[id], status)
		src := &out[at[id]]
		if n := len(src.Sends); n > 0 && src.Sends[n-1].ConnectionID == conn && sameBody(src.Sends[n-1].Body, body) {
			continue
		}
		src.Sends = append(src.Sends, herald.ReplaySend{ConnectionID: conn, Body: body})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay sources: deliveries: %w", unavailable(err))
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
// transaction, or nothing when one of the events is not envID's.
func (s *Store) AddDeliveries(ctx context.Context, envID string, ds []herald.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	var events []any
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.EventID] {
			seen[d.EventID] = true
			events = append(events, d.EventID)
		}
	}
	var refused error // nothing written: the group commit goes on
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		refused = nil
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE environment_id = ? AND id IN (`+
			placeholders(len(events), "?")+`)`, append([]any{envID}, events...)...).Scan(&n); err != nil {
			return fmt.Errorf("add deliveries: events: %w", unavailable(err))
		}
		if n != len(events) {
			refused = herald.ErrNotFound
			return nil
		}
		args := make([]any, 0, len(ds)*deliveryParams)
		for _, d := range ds {
			d.EnvironmentID = envID
			args = appendDelivery(args, &d)
		}
		if err := s.stmts.deliveries.exec(ctx, tx, args); err != nil {
			return fmt.Errorf("add deliveries: %w", unavailable(err))
		}
		return nil
	})
	if err == nil {
		err = refused
	}
	return err
}

// ClaimOnce records key for envID unless it was recorded less than window
// before now, in the idempotency keys' table (with no answer).
func (s *Store) ClaimOnce(ctx context.Context, envID, key string, window time.Duration, now time.Time) (bool, error) {
	var claimed bool
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		claimed = false
		var one int
		err := tx.QueryRowContext(ctx, `INSERT INTO idempotency_keys (environment_id, key, response, request_hash, created_at)
			VALUES (?, ?, x'', x'', ?)
			ON CONFLICT (environment_id, key) DO UPDATE SET response = excluded.response,
				request_hash = excluded.request_hash, created_at = excluded.created_at
			WHERE idempotency_keys.created_at <= ?
			RETURNING 1`, envID, key, ms(now), ms(now.Add(-window))).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case isForeignKey(err):
			return herald.ErrEnvironmentDeleted
		case err != nil:
			return fmt.Errorf("claim once: %w", unavailable(err))
		}
		claimed = true
		return nil
	})
	return claimed, err
}

// CountReplay counts the events of envID that ReplaySources would return
// for f.
func (s *Store) CountReplay(ctx context.Context, envID string, f herald.EventFilter) (int, error) {
	f.Cursor = ""
	where, args := eventWhere(envID, f)
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE `+where+` AND body_pruned = 0`, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count replay: %w", unavailable(err))
	}
	return n, nil
}
