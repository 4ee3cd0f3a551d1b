package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// CreateEnvironment inserts env and the endpoints of its URLs, in one
// batch (one implicit transaction); a taken name is herald.ErrConflict.
func (s *Store) CreateEnvironment(ctx context.Context, env *herald.Environment) error {
	settings, err := json.Marshal(env.Settings)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO environments (id, name, secret_key_hash, signing_key, settings, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, env.ID, env.Name, env.SecretKeyHash, env.SigningKey, string(settings), env.CreatedAt)
	if urls := env.Settings.URLs(); len(urls) > 0 {
		args, err := endpointArgs(env.ID, urls, env.CreatedAt)
		if err != nil {
			return err
		}
		b.Queue(insertEndpoints, args...)
	}
	err = s.pool.SendBatch(ctx, b).Close()
	if isUnique(err) {
		return herald.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create environment: %w", wrap(err))
	}
	return nil
}

// envSelect reads environments; HasURLOverrides is derived, from the
// partial index of connections with an override.
const envSelect = `SELECT id, name, secret_key_hash, signing_key, previous_signing_key, previous_key_expires_at, settings, created_at,
	EXISTS (SELECT 1 FROM connections c WHERE c.environment_id = environments.id AND c.webhook_url_override <> '')
	FROM environments`

func scanEnv(row pgx.Row) (*herald.Environment, error) {
	var e herald.Environment
	var settings string
	if err := row.Scan(&e.ID, &e.Name, &e.SecretKeyHash, &e.SigningKey, &e.PreviousSigningKey, &e.PreviousKeyExpiresAt, &settings, &e.CreatedAt,
		&e.HasURLOverrides); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan environment: %w", wrap(err))
	}
	e.Settings = herald.DefaultSettings()
	if err := json.Unmarshal([]byte(settings), &e.Settings); err != nil {
		return nil, fmt.Errorf("environment %s settings: %w", e.ID, err)
	}
	e.CreatedAt, e.PreviousKeyExpiresAt = e.CreatedAt.UTC(), e.PreviousKeyExpiresAt.UTC()
	return &e, nil
}

// ListEnvironments returns every environment, oldest first.
func (s *Store) ListEnvironments(ctx context.Context) ([]herald.Environment, error) {
	rows, err := s.pool.Query(ctx, envSelect+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", wrap(err))
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
	return out, wrap(rows.Err())
}

// DeleteEnvironment removes an environment and all its data: its events
// and deliveries explicitly (migration 0015), the rest by cascade. It
// first takes the environment's advisory lock exclusively, which waits
// for the ingests under way into it and holds off the next ones until it
// commits; those then find the environment gone. Events go before
// deliveries: deleting an event waits for an AddDeliveries that locked
// it, and the deliveries statement then sees what that one added.
func (s *Store) DeleteEnvironment(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, environmentLock, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM events WHERE environment_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE environment_id = $1`, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM environments WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return herald.ErrNotFound
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, EnvironmentChannel, id)
		return err
	})
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return fmt.Errorf("delete environment: %w", wrap(err))
	}
	return err
}

// changeEnvironment runs one update of environment id, then (unless nil)
// then, and, in the same transaction, tells every process to drop it from
// its cache (delivered at commit).
func (s *Store) changeEnvironment(ctx context.Context, what, id string, then func(tx pgx.Tx) error, q string, args ...any) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return herald.ErrNotFound
		}
		if then != nil {
			if err := then(tx); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, EnvironmentChannel, id)
		return err
	})
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, wrap(err))
	}
	return err
}

// EnvironmentByID loads one environment.
func (s *Store) EnvironmentByID(ctx context.Context, id string) (*herald.Environment, error) {
	return scanEnv(s.pool.QueryRow(ctx, envSelect+` WHERE id = $1`, id))
}

// EnvironmentByKeyHash finds the environment whose secret key hashes to hash.
func (s *Store) EnvironmentByKeyHash(ctx context.Context, hash []byte) (*herald.Environment, error) {
	return scanEnv(s.pool.QueryRow(ctx, envSelect+` WHERE secret_key_hash = $1`, hash))
}

// UpdateSettings replaces an environment's webhook settings and makes
// the endpoints of its new URLs in the same transaction (after the
// environment's row is locked: a deletion under way is waited for). The
// endpoints of URLs it no longer has stay, with their figures.
func (s *Store) UpdateSettings(ctx context.Context, id string, settings herald.Settings) error {
	b, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	endpoints := func(tx pgx.Tx) error { return addEndpoints(ctx, tx, id, settings.URLs(), time.Now()) }
	return s.changeEnvironment(ctx, "update settings", id, endpoints, `UPDATE environments SET settings = $1 WHERE id = $2`, string(b), id)
}

// RotateSigningKey makes newKey current; the old key stays valid for
// Standard Webhooks signatures until previousExpires.
func (s *Store) RotateSigningKey(ctx context.Context, id, newKey string, previousExpires time.Time) error {
	return s.changeEnvironment(ctx, "rotate signing key", id, nil, `UPDATE environments SET previous_signing_key = signing_key,
		previous_key_expires_at = $1, signing_key = $2 WHERE id = $3`, previousExpires, newKey, id)
}
