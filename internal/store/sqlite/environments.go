package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// CreateEnvironment inserts env, and the endpoints of its settings' URLs;
// a taken name is herald.ErrConflict.
func (s *Store) CreateEnvironment(ctx context.Context, env *herald.Environment) error {
	settings, err := json.Marshal(env.Settings)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO environments (id, name, secret_key_hash, signing_key, settings, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, env.ID, env.Name, env.SecretKeyHash, env.SigningKey, string(settings), ms(env.CreatedAt))
		if isUnique(err) {
			return herald.ErrConflict
		}
		if err != nil {
			return fmt.Errorf("create environment: %w", unavailable(err))
		}
		return ensureEndpoints(ctx, tx, env.ID, env.Settings.URLs(), env.CreatedAt)
	})
}

// ListEnvironments returns every environment, oldest first.
func (s *Store) ListEnvironments(ctx context.Context) ([]herald.Environment, error) {
	rows, err := s.r.QueryContext(ctx, envSelect+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", unavailable(err))
	}
	defer rows.Close()
	var out []herald.Environment
	for rows.Next() {
		e, err := scanEnv(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// DeleteEnvironment removes an environment and, by cascade, all its data.
func (s *Store) DeleteEnvironment(ctx context.Context, id string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE environment_id = ?`, id); err != nil {
			return fmt.Errorf("delete environment: %w", unavailable(err))
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM environments WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete environment: %w", unavailable(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		return nil
	})
}

// envSelect reads environments; HasURLOverrides is derived, from the
// partial index of connections with an override.
const envSelect = `SELECT id, name, secret_key_hash, signing_key, previous_signing_key, previous_key_expires_at, settings, created_at,
	EXISTS (SELECT 1 FROM connections c WHERE c.environment_id = environments.id AND c.webhook_url_override <> '')
	FROM environments`

func scanEnv(row scanner) (*herald.Environment, error) {
	var e herald.Environment
	var settings string
	var prevExp, created int64
	if err := row.Scan(&e.ID, &e.Name, &e.SecretKeyHash, &e.SigningKey, &e.PreviousSigningKey, &prevExp, &settings, &created,
		&e.HasURLOverrides); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan environment: %w", unavailable(err))
	}
	e.Settings = herald.DefaultSettings()
	if err := json.Unmarshal([]byte(settings), &e.Settings); err != nil {
		return nil, fmt.Errorf("environment %s settings: %w", e.ID, err)
	}
	e.PreviousKeyExpiresAt = fromMS(prevExp)
	e.CreatedAt = fromMS(created)
	return &e, nil
}

// EnvironmentByID loads one environment.
func (s *Store) EnvironmentByID(ctx context.Context, id string) (*herald.Environment, error) {
	return scanEnv(s.r.QueryRowContext(ctx, envSelect+` WHERE id = ?`, id))
}

// EnvironmentByKeyHash finds the environment whose secret key hashes to hash.
func (s *Store) EnvironmentByKeyHash(ctx context.Context, hash []byte) (*herald.Environment, error) {
	return scanEnv(s.r.QueryRowContext(ctx, envSelect+` WHERE secret_key_hash = ?`, hash))
}

// UpdateSettings replaces an environment's webhook settings and makes the
// endpoints of URLs new to it.
func (s *Store) UpdateSettings(ctx context.Context, id string, settings herald.Settings) error {
	b, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE environments SET settings = ? WHERE id = ?`, string(b), id)
		if err != nil {
			return fmt.Errorf("update settings: %w", unavailable(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		return ensureEndpoints(ctx, tx, id, settings.URLs(), time.Now())
	})
}

// RotateSigningKey makes newKey current; the old key stays valid for
// Standard Webhooks signatures until previousExpires.
func (s *Store) RotateSigningKey(ctx context.Context, id, newKey string, previousExpires time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE environments SET previous_signing_key = signing_key,
			previous_key_expires_at = ?, signing_key = ? WHERE id = ?`, ms(previousExpires), newKey, id)
		if err != nil {
			return fmt.Errorf("rotate signing key: %w", unavailable(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		return nil
	})
}
