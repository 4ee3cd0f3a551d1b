package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const integrationCols = `environment_id, provider_config_key, provider, forward_webhooks, client_id, client_secret,
	webhook_secret, require_signature, max_body_bytes, rate_limit_per_s, created_at, updated_at`

func scanIntegration(row pgx.Row) (*herald.Integration, error) {
	var in herald.Integration
	if err := row.Scan(&in.EnvironmentID, &in.ProviderConfigKey, &in.Provider, &in.ForwardWebhooks, &in.ClientID,
		&in.ClientSecret, &in.WebhookSecret, &in.RequireSignature, &in.MaxBodyBytes, &in.RateLimitPerS,
		&in.CreatedAt, &in.UpdatedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan integration: %w", wrap(err))
	}
	in.CreatedAt, in.UpdatedAt = in.CreatedAt.UTC(), in.UpdatedAt.UTC()
	return &in, nil
}

// announce runs fn in a transaction; when fn returns true, the id of envID
// is sent on EnvironmentChannel in that transaction (delivered at commit),
// so that every process's cache drops the environment.
func (s *Store) announce(ctx context.Context, what, envID string, fn func(tx pgx.Tx) (bool, error)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		changed, err := fn(tx)
		if err != nil || !changed {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, EnvironmentChannel, envID)
		return err
	})
	switch {
	case err == nil, errors.Is(err, herald.ErrNotFound), errors.Is(err, herald.ErrEnvironmentDeleted):
		return err
	case isForeignKey(err):
		// The environment was deleted meanwhile.
		return herald.ErrEnvironmentDeleted
	}
	return fmt.Errorf("%s: %w", what, wrap(err))
}

// PutIntegration creates or replaces in, and announces the change. A
// replaced integration keeps its created_at, which is set back into in.
func (s *Store) PutIntegration(ctx context.Context, in *herald.Integration) (bool, error) {
	var created bool
	var createdAt time.Time
	err := s.announce(ctx, "put integration", in.EnvironmentID, func(tx pgx.Tx) (bool, error) {
		// xmax is 0 on a row this statement inserted, and set on one it
		// updated (locked by this transaction).
		err := tx.QueryRow(ctx, `INSERT INTO integrations (`+integrationCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (environment_id, provider_config_key) DO UPDATE SET provider = EXCLUDED.provider,
				forward_webhooks = EXCLUDED.forward_webhooks, client_id = EXCLUDED.client_id,
				client_secret = EXCLUDED.client_secret, webhook_secret = EXCLUDED.webhook_secret,
				require_signature = EXCLUDED.require_signature, max_body_bytes = EXCLUDED.max_body_bytes,
				rate_limit_per_s = EXCLUDED.rate_limit_per_s, updated_at = EXCLUDED.updated_at
			RETURNING created_at, xmax = 0`,
			in.EnvironmentID, in.ProviderConfigKey, in.Provider, in.ForwardWebhooks, in.ClientID, in.ClientSecret,
			in.WebhookSecret, in.RequireSignature, in.MaxBodyBytes, in.RateLimitPerS, in.CreatedAt, in.UpdatedAt,
		).Scan(&createdAt, &created)
		return true, err
	})
	if err != nil {
		return false, err
	}
	if !created {
		in.CreatedAt = createdAt.UTC()
	}
	return created, nil
}

// Integration returns one integration of envID.
func (s *Store) Integration(ctx context.Context, envID, providerConfigKey string) (*herald.Integration, error) {
	return scanIntegration(s.pool.QueryRow(ctx, `SELECT `+integrationCols+` FROM integrations
		WHERE environment_id = $1 AND provider_config_key = $2`, envID, providerConfigKey))
}

// ListIntegrations lists envID's integrations by provider config key,
// after page.Cursor (a key).
func (s *Store) ListIntegrations(ctx context.Context, envID string, page herald.Page) ([]herald.Integration, error) {
	q := `SELECT ` + integrationCols + ` FROM integrations WHERE environment_id = $1`
	args := []any{envID}
	if page.Cursor != "" {
		args = append(args, page.Cursor)
		q += ` AND provider_config_key > $2`
	}
	args = append(args, page.Limit)
	rows, err := s.pool.Query(ctx, fmt.Sprintf(q+` ORDER BY provider_config_key LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", wrap(err))
	}
	defer rows.Close()
	out := []herald.Integration{}
	for rows.Next() {
		in, err := scanIntegration(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list integrations: %w", wrap(err))
	}
	return out, nil
}

// DeleteIntegration deletes an integration and its connections (their
// keys go with them, by cascade), and announces the change.
func (s *Store) DeleteIntegration(ctx context.Context, envID, providerConfigKey string) error {
	return s.announce(ctx, "delete integration", envID, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM integrations WHERE environment_id = $1 AND provider_config_key = $2`,
			envID, providerConfigKey)
		if err != nil {
			return false, err
		}
		if tag.RowsAffected() == 0 {
			return false, herald.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM connections WHERE environment_id = $1 AND provider_config_key = $2`,
			envID, providerConfigKey)
		return true, err
	})
}
