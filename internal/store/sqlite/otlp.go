package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
)

// PutOTLP stores an environment's OTLP export, or removes it when
// cfg.Endpoint is empty.
func (s *Store) PutOTLP(ctx context.Context, cfg herald.OTLPConfig) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if cfg.Endpoint == "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM environment_otlp WHERE environment_id = ?`, cfg.EnvironmentID); err != nil {
				return fmt.Errorf("put otlp: %w", unavailable(err))
			}
			return nil
		}
		headers, err := json.Marshal(nonNilHeaders(cfg.Headers))
		if err != nil {
			return err
		}
		updated := cfg.UpdatedAt
		if updated.IsZero() {
			updated = time.Now()
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO environment_otlp (environment_id, endpoint, headers, span_names, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (environment_id) DO UPDATE SET endpoint = excluded.endpoint, headers = excluded.headers,
				span_names = excluded.span_names, updated_at = excluded.updated_at`,
			cfg.EnvironmentID, cfg.Endpoint, string(headers), cfg.SpanNames, ms(updated))
		if isForeignKey(err) {
			return herald.ErrEnvironmentDeleted
		}
		if err != nil {
			return fmt.Errorf("put otlp: %w", unavailable(err))
		}
		return nil
	})
}

// OTLP returns an environment's OTLP export.
func (s *Store) OTLP(ctx context.Context, envID string) (*herald.OTLPConfig, error) {
	cfg := herald.OTLPConfig{EnvironmentID: envID}
	var headers string
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT endpoint, headers, span_names, updated_at FROM environment_otlp
		WHERE environment_id = ?`, envID).Scan(&cfg.Endpoint, &headers, &cfg.SpanNames, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, herald.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("otlp: %w", unavailable(err))
	}
	if err := json.Unmarshal([]byte(headers), &cfg.Headers); err != nil {
		return nil, fmt.Errorf("otlp of %s: headers: %w", envID, err)
	}
	cfg.UpdatedAt = fromMS(updated)
	return &cfg, nil
}

func nonNilHeaders(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
}
