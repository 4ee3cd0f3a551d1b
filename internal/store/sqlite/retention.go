package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PruneDeliveries deletes a batch of old finished deliveries (their
// attempts go with them, ON DELETE CASCADE), then a batch of old events
// left with none, in one write of the group commit: ingest and outcomes
// queued meanwhile are written in the next ones. The deliveries are a
// range of deliveries_finished, oldest first; the events one of
// events_created, each checked against deliveries_event.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries
			WHERE status IN ('succeeded', 'failed', 'skipped') AND created_at < ?
			ORDER BY created_at LIMIT ?)`, ms(before), limit)
		if err != nil {
			return fmt.Errorf("prune deliveries: %w", unavailable(err))
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events
			WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.event_id = events.id)
			ORDER BY created_at LIMIT ?)`, ms(before), limit); err != nil {
			return fmt.Errorf("prune events: %w", unavailable(err))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// PruneBodies empties the bodies of a batch of old events whose
// deliveries are all finished (held ones are not: they are sent once
// their endpoint is enabled), in one write of the group commit. The
// events are a range of events_body_kept, oldest first, each checked
// against deliveries_event.
func (s *Store) PruneBodies(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `UPDATE events SET body = 'null', body_pruned = 1 WHERE id IN (SELECT id FROM events
			WHERE body_pruned = 0 AND created_at < ?
			AND NOT EXISTS (SELECT 1 FROM deliveries WHERE deliveries.event_id = events.id
				AND deliveries.status IN ('pending', 'sending', 'held'))
			ORDER BY created_at LIMIT ?) RETURNING id`, ms(before), limit)
		if err != nil {
			return fmt.Errorf("prune bodies: %w", unavailable(err))
		}
		defer rows.Close()
		var ids []any
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("prune bodies: %w", unavailable(err))
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("prune bodies: %w", unavailable(err))
		}
		rows.Close()
		n = len(ids)
		if n == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET body = NULL
			WHERE event_id IN (`+placeholders(n, "?")+`) AND body IS NOT NULL`, ids...); err != nil {
			return fmt.Errorf("prune bodies: deliveries: %w", unavailable(err))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// PruneIdempotencyKeys deletes a batch of the oldest idempotency keys
// recorded before before (a range of idempotency_keys_created), in one
// write of the group commit.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (environment_id, key) IN (
			SELECT environment_id, key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`, ms(before), limit)
		if err != nil {
			return fmt.Errorf("prune idempotency keys: %w", unavailable(err))
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// PruneEndpointStats deletes a batch of the oldest per-minute figures of
// minutes that began before before (a range of endpoint_minutes_minute),
// in one write of the group commit.
func (s *Store) PruneEndpointStats(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM endpoint_minutes WHERE (environment_id, url, minute) IN (
			SELECT environment_id, url, minute FROM endpoint_minutes WHERE minute < ? ORDER BY minute LIMIT ?)`, ms(before), limit)
		if err != nil {
			return fmt.Errorf("prune endpoint stats: %w", unavailable(err))
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}
