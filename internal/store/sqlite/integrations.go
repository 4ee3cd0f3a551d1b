package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	herald "github.com/heraldhq/herald"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const integrationCols = `environment_id, provider_config_key, provider, forward_webhooks, client_id, client_secret,
	webhook_secret, require_signature, max_body_bytes, rate_limit_per_s, created_at, updated_at`

func scanIntegration(row scanner) (*herald.Integration, error) {
	var in herald.Integration
	var require sql.NullBool
	var created, updated int64
	if err := row.Scan(&in.EnvironmentID, &in.ProviderConfigKey, &in.Provider, &in.ForwardWebhooks, &in.ClientID,
		&in.ClientSecret, &in.WebhookSecret, &require, &in.MaxBodyBytes, &in.RateLimitPerS, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan integration: %w", unavailable(err))
	}
	if require.Valid {
		in.RequireSignature = &require.Bool
	}
	in.CreatedAt, in.UpdatedAt = fromMS(created), fromMS(updated)
	return &in, nil
}

// PutIntegration creates or replaces in. A replaced integration keeps its
// created_at, which is set back into in.
func (s *Store) PutIntegration(ctx context.Context, in *herald.Integration) (bool, error) {
	var created bool
	var createdAt int64
	var require any
	if in.RequireSignature != nil {
		require = *in.RequireSignature
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// One writer: nothing can come between the read and the write.
		err := tx.QueryRowContext(ctx, `SELECT created_at FROM integrations WHERE environment_id = ? AND provider_config_key = ?`,
			in.EnvironmentID, in.ProviderConfigKey).Scan(&createdAt)
		created = errors.Is(err, sql.ErrNoRows)
		if err != nil && !created {
			return fmt.Errorf("put integration: %w", unavailable(err))
		}
		if created {
			createdAt = ms(in.CreatedAt)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO integrations (`+integrationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (environment_id, provider_config_key) DO UPDATE SET provider = excluded.provider,
				forward_webhooks = excluded.forward_webhooks, client_id = excluded.client_id,
				client_secret = excluded.client_secret, webhook_secret = excluded.webhook_secret,
				require_signature = excluded.require_signature, max_body_bytes = excluded.max_body_bytes,
				rate_limit_per_s = excluded.rate_limit_per_s, updated_at = excluded.updated_at`,
			in.EnvironmentID, in.ProviderConfigKey, in.Provider, in.ForwardWebhooks, in.ClientID, in.ClientSecret,
			in.WebhookSecret, require, in.MaxBodyBytes, in.RateLimitPerS, createdAt, ms(in.UpdatedAt))
		if isForeignKey(err) {
			return herald.ErrEnvironmentDeleted
		}
		if err != nil {
			return fmt.Errorf("put integration: %w", unavailable(err))
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if !created {
		in.CreatedAt = fromMS(createdAt)
	}
	return created, nil
}

// Integration returns one integration of envID.
func (s *Store) Integration(ctx context.Context, envID, providerConfigKey string) (*herald.Integration, error) {
	return scanIntegration(s.r.QueryRowContext(ctx, `SELECT `+integrationCols+` FROM integrations
		WHERE environment_id = ? AND provider_config_key = ?`, envID, providerConfigKey))
}

// ListIntegrations lists envID's integrations by provider config key,
// after page.Cursor (a key).
func (s *Store) ListIntegrations(ctx context.Context, envID string, page herald.Page) ([]herald.Integration, error) {
	q := `SELECT ` + integrationCols + ` FROM integrations WHERE environment_id = ?`
	args := []any{envID}
	if page.Cursor != "" {
		q += ` AND provider_config_key > ?`
		args = append(args, page.Cursor)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY provider_config_key LIMIT ?`, append(args, page.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", unavailable(err))
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
		return nil, fmt.Errorf("list integrations: %w", unavailable(err))
	}
	return out, nil
}

// DeleteIntegration deletes an integration and its connections (their keys
// go with them, by cascade).
func (s *Store) DeleteIntegration(ctx context.Context, envID, providerConfigKey string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM integrations WHERE environment_id = ? AND provider_config_key = ?`,
			envID, providerConfigKey)
		if err != nil {
			return fmt.Errorf("delete integration: %w", unavailable(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM connections WHERE environment_id = ? AND provider_config_key = ?`,
			envID, providerConfigKey); err != nil {
			return fmt.Errorf("delete integration's connections: %w", unavailable(err))
		}
		return nil
	})
}
