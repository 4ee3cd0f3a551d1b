package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/jackc/pgx/v5"
)

// PutOTLP stores an environment's OTLP export, or removes it when
// cfg.Endpoint is empty.
func (s *Store) PutOTLP(ctx context.Context, cfg herald.OTLPConfig) error {
	if cfg.Endpoint == "" {
		if _, err := s.pool.Exec(ctx, `DELETE FROM environment_otlp WHERE environment_id = $1`, cfg.EnvironmentID); err != nil {
			return fmt.Errorf("put otlp: %w", wrap(err))
		}
		return nil
	}
	h := cfg.Headers
	if h == nil {
		h = map[string]string{}
	}
	headers, err := json.Marshal(h)
	if err != nil {
		return err
	}
	updated := cfg.UpdatedAt
	if updated.IsZero() {
		updated = time.Now()
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO environment_otlp (environment_id, endpoint, headers, span_names, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (environment_id) DO UPDATE SET endpoint = EXCLUDED.endpoint, headers = EXCLUDED.headers,
			span_names = EXCLUDED.span_names, updated_at = EXCLUDED.updated_at`,
		cfg.EnvironmentID, cfg.Endpoint, string(headers), cfg.SpanNames, updated)
	if isForeignKey(err) {
		return herald.ErrEnvironmentDeleted
	}
	if err != nil {
		return fmt.Errorf("put otlp: %w", wrap(err))
	}
	return nil
}

// OTLP returns an environment's OTLP export.
func (s *Store) OTLP(ctx context.Context, envID string) (*herald.OTLPConfig, error) {
	cfg := herald.OTLPConfig{EnvironmentID: envID}
	var headers string
	err := s.pool.QueryRow(ctx, `SELECT endpoint, headers, span_names, updated_at FROM environment_otlp
		WHERE environment_id = $1`, envID).Scan(&cfg.Endpoint, &headers, &cfg.SpanNames, &cfg.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, herald.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("otlp: %w", wrap(err))
	}
	cfg.UpdatedAt = cfg.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(headers), &cfg.Headers); err != nil {
		return nil, fmt.Errorf("otlp of %s: headers: %w", envID, err)
	}
	return &cfg, nil
}
