package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PruneDeliveries deletes a batch of old finished deliveries (their
// attempts go with them, ON DELETE CASCADE) in one statement, then a
// batch of old events left with none (pruneEvents). The deliveries are a
// range of deliveries_finished, oldest first, the events one of
// events_created, each checked against deliveries_event; rows another
// transaction holds are skipped (SKIP LOCKED), so neither ingest nor
// claiming waits.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `WITH picked AS (
			SELECT id FROM deliveries
			WHERE status IN ('succeeded', 'failed', 'skipped') AND created_at < $1
			ORDER BY created_at LIMIT $2
			FOR UPDATE SKIP LOCKED)
		DELETE FROM deliveries d USING picked WHERE d.id = picked.id`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", wrap(err))
	}
	if err := s.pruneEvents(ctx, before, limit); err != nil {
		return 0, fmt.Errorf("prune events: %w", wrap(err))
	}
	return int(tag.RowsAffected()), nil
}

// pruneEvents deletes a batch of events created before before that have
// no delivery, in two statements of one transaction: the first locks them
// (skipping those an AddDeliveries holds), the second deletes those still
// without a delivery. No foreign key guards the deliveries' events
// (migration 0015), and the second statement's fresh snapshot sees the
// deliveries an AddDeliveries committed after the first one's: with one
// statement the event would go and leave them behind. Once an event is
// locked here, an AddDeliveries to it waits, then finds it gone.
func (s *Store) pruneEvents(ctx context.Context, before time.Time, limit int) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM events e
			WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
			ORDER BY created_at LIMIT $2
			FOR UPDATE SKIP LOCKED`, before, limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM events e WHERE e.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)`, ids)
		return err
	})
}

// PruneBodies empties the bodies of a batch of old events whose
// deliveries are all finished (a held delivery is not: it is sent once
// its endpoint is enabled), and their deliveries' own bodies, in one
// statement. The events are a range of events_body_kept, oldest first,
// each checked against deliveries_event; locked ones are skipped.
func (s *Store) PruneBodies(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `WITH picked AS (
			SELECT id FROM events e
			WHERE NOT body_pruned AND created_at < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'sending', 'held'))
			ORDER BY created_at LIMIT $2
			FOR UPDATE SKIP LOCKED),
		bodies AS (
			UPDATE deliveries d SET body = NULL FROM picked WHERE d.event_id = picked.id AND d.body IS NOT NULL)
		UPDATE events e SET body = 'null', body_pruned = true FROM picked WHERE e.id = picked.id`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("prune bodies: %w", wrap(err))
	}
	return int(tag.RowsAffected()), nil
}

// PruneIdempotencyKeys deletes a batch of the oldest idempotency keys
// recorded before before (a range of idempotency_keys_created) in one
// statement; keys another transaction holds are skipped.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `WITH picked AS (
			SELECT environment_id, key FROM idempotency_keys
			WHERE created_at < $1 ORDER BY created_at LIMIT $2
			FOR UPDATE SKIP LOCKED)
		DELETE FROM idempotency_keys k USING picked
		WHERE k.environment_id = picked.environment_id AND k.key = picked.key`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", wrap(err))
	}
	return int(tag.RowsAffected()), nil
}

// PruneEndpointStats deletes a batch of the oldest endpoint minutes that
// began before before (a range of endpoint_minutes_minute) in one
// statement; minutes another transaction holds (RecordAttempts adding to
// one) are skipped.
func (s *Store) PruneEndpointStats(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `WITH picked AS (
			SELECT environment_id, url, minute, shard FROM endpoint_minutes
			WHERE minute < $1 ORDER BY minute LIMIT $2
			FOR UPDATE SKIP LOCKED)
		DELETE FROM endpoint_minutes m USING picked
		WHERE m.environment_id = picked.environment_id AND m.url = picked.url AND m.minute = picked.minute
			AND m.shard = picked.shard`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("prune endpoint stats: %w", wrap(err))
	}
	return int(tag.RowsAffected()), nil
}
