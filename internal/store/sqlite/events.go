package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	herald "github.com/heraldhq/herald"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Ingest stores a producer request in one transaction (group-committed
// with other requests), or returns the stored answer for a repeated
// Idempotency-Key.
func (s *Store) Ingest(ctx context.Context, req herald.IngestRequest) ([]byte, error) {
	var replay []byte
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := ms(req.Now)
		if req.IdempotencyKey != "" {
			var hash []byte
			err := tx.StmtContext(ctx, s.stmts.getIdem).QueryRowContext(ctx, req.EnvironmentID, req.IdempotencyKey,
				now-herald.IdempotencyWindow.Milliseconds()).Scan(&replay, &hash)
			if err == nil {
				if !herald.SameRequest(hash, req.RequestHash) {
					replay = nil
					return herald.ErrIdempotencyKeyReused
				}
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("ingest: idempotency lookup: %w", unavailable(err))
			}
		}
		insEvent := tx.StmtContext(ctx, s.stmts.insertEvent)
		insDelivery := tx.StmtContext(ctx, s.stmts.insertDelivery)
		for _, ne := range req.Events {
			e := ne.Event
			if _, err := insEvent.ExecContext(ctx, e.ID, e.EnvironmentID, e.Type, e.ConnectionID, e.ProviderConfigKey,
				e.Body, e.Skipped, herald.EncodeFieldList(e.UnknownFields), nullBytes(e.Headers), nullBytes(e.Inbound),
				ms(e.CreatedAt)); err != nil {
				if isForeignKey(err) {
					return herald.ErrEnvironmentDeleted
				}
				return fmt.Errorf("ingest: insert event: %w", unavailable(err))
			}
			for _, d := range ne.Deliveries {
				status := d.Status
				if status == "" {
					status = herald.StatusPending
				}
				if _, err := insDelivery.ExecContext(ctx, d.ID, d.EventID, d.EnvironmentID, d.Type, d.ConnectionID,
					d.ProviderConfigKey, d.URL, status, nullMS(d.NextAttemptAt), nullMS(d.LeaseUntil), ms(d.CreatedAt), ms(d.CreatedAt),
					freshGen(status), nullBytes(d.Body)); err != nil {
					return fmt.Errorf("ingest: insert delivery: %w", unavailable(err))
				}
			}
		}
		if req.IdempotencyKey != "" {
			if _, err := tx.StmtContext(ctx, s.stmts.putIdem).ExecContext(ctx, req.EnvironmentID, req.IdempotencyKey, req.Response,
				nonNil(req.RequestHash), now); err != nil {
				return fmt.Errorf("ingest: store idempotency key: %w", unavailable(err))
			}
		}
		return nil
	})
	return replay, err
}

// eventCols are the columns of an event but its body, which only GetEvent
// reads: lists stay light.
const eventCols = `id, environment_id, type, connection_id, provider_config_key, skipped, unknown_fields, headers, inbound,
	created_at`

// scanEvent reads eventCols, then the extra destinations.
func scanEvent(row scanner, extra ...any) (*herald.Event, error) {
	var e herald.Event
	var created int64
	var unknown string
	dest := append([]any{&e.ID, &e.EnvironmentID, &e.Type, &e.ConnectionID, &e.ProviderConfigKey, &e.Skipped, &unknown,
		&e.Headers, &e.Inbound, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan event: %w", unavailable(err))
	}
	e.CreatedAt = fromMS(created)
	var err error
	if e.UnknownFields, err = herald.DecodeFieldList(unknown); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return &e, nil
}

// GetEvent returns an event of envID and its deliveries.
func (s *Store) GetEvent(ctx context.Context, envID, id string) (*herald.Event, []herald.Delivery, error) {
	var body []byte
	e, err := scanEvent(s.r.QueryRowContext(ctx, `SELECT `+eventCols+`, body FROM events WHERE id = ? AND environment_id = ?`,
		id, envID), &body)
	if err != nil {
		return nil, nil, err
	}
	e.Body = body
	ds, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE event_id = ? ORDER BY id`, id)
	return e, ds, err
}

// ListEvents returns envID's events newest first, filtered, without their
// bodies.
func (s *Store) ListEvents(ctx context.Context, envID string, f herald.EventFilter) ([]herald.Event, error) {
	where, args := logWhere(envID, herald.DeliveryFilter{Type: f.Type, ConnectionID: f.ConnectionID,
		ProviderConfigKey: f.ProviderConfigKey, Since: f.Since, Until: f.Until, Cursor: f.Cursor})
	args = append(args, f.Limit)
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", unavailable(err))
	}
	defer rows.Close()
	out := []herald.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", unavailable(err))
	}
	return out, nil
}
