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
				e.Body, e.Skipped, herald.EncodeFieldList(e.UnknownFields), ms(e.CreatedAt)); err != nil {
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
					freshGen(status)); err != nil {
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

// GetEvent returns an event of envID and its deliveries.
func (s *Store) GetEvent(ctx context.Context, envID, id string) (*herald.Event, []herald.Delivery, error) {
	var e herald.Event
	var created int64
	var unknown string
	err := s.r.QueryRowContext(ctx, `SELECT id, environment_id, type, connection_id, provider_config_key, body, skipped,
		unknown_fields, created_at FROM events WHERE id = ? AND environment_id = ?`, id, envID).Scan(&e.ID, &e.EnvironmentID,
		&e.Type, &e.ConnectionID, &e.ProviderConfigKey, &e.Body, &e.Skipped, &unknown, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, herald.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get event: %w", unavailable(err))
	}
	e.CreatedAt = fromMS(created)
	if e.UnknownFields, err = herald.DecodeFieldList(unknown); err != nil {
		return nil, nil, fmt.Errorf("get event: %w", unavailable(err))
	}
	ds, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE event_id = ? ORDER BY id`, id)
	return &e, ds, err
}
