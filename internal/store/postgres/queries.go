package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	herald "github.com/heraldhq/herald"
)

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// exec runs one statement and reports herald.ErrNotFound when it touched no row.
func (s *Store) execOne(ctx context.Context, what, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, wrap(err))
	}
	if tag.RowsAffected() == 0 {
		return herald.ErrNotFound
	}
	return nil
}

// CreateEnvironment inserts env; a taken name is herald.ErrConflict.
func (s *Store) CreateEnvironment(ctx context.Context, env *herald.Environment) error {
	settings, err := json.Marshal(env.Settings)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO environments (id, name, secret_key_hash, signing_key, settings, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, env.ID, env.Name, env.SecretKeyHash, env.SigningKey, string(settings), env.CreatedAt)
	if isUnique(err) {
		return herald.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("create environment: %w", wrap(err))
	}
	return nil
}

const envSelect = `SELECT id, name, secret_key_hash, signing_key, previous_signing_key, previous_key_expires_at, settings, created_at FROM environments`

func scanEnv(row pgx.Row) (*herald.Environment, error) {
	var e herald.Environment
	var settings string
	if err := row.Scan(&e.ID, &e.Name, &e.SecretKeyHash, &e.SigningKey, &e.PreviousSigningKey, &e.PreviousKeyExpiresAt, &settings, &e.CreatedAt); err != nil {
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

// DeleteEnvironment removes an environment and, by cascade, all its data.
func (s *Store) DeleteEnvironment(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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
		return nil
	})
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return fmt.Errorf("delete environment: %w", wrap(err))
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

// UpdateSettings replaces an environment's webhook settings.
func (s *Store) UpdateSettings(ctx context.Context, id string, settings herald.Settings) error {
	b, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	return s.execOne(ctx, "update settings", `UPDATE environments SET settings = $1 WHERE id = $2`, string(b), id)
}

// RotateSigningKey makes newKey current; the old key stays valid for
// Standard Webhooks signatures until previousExpires.
func (s *Store) RotateSigningKey(ctx context.Context, id, newKey string, previousExpires time.Time) error {
	return s.execOne(ctx, "rotate signing key", `UPDATE environments SET previous_signing_key = signing_key,
		previous_key_expires_at = $1, signing_key = $2 WHERE id = $3`, previousExpires, newKey, id)
}

// AddAdminKeyHash stores the hash of an admin key created by herald.
func (s *Store) AddAdminKeyHash(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_keys (key_hash, created_at) VALUES ($1, now()) ON CONFLICT DO NOTHING`, hash)
	return wrap(err)
}

// AdminKeyHashes lists the stored admin key hashes.
func (s *Store) AdminKeyHashes(ctx context.Context) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT key_hash FROM admin_keys`)
	if err != nil {
		return nil, fmt.Errorf("admin keys: %w", wrap(err))
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	return hashes, wrap(err)
}

const deliveryCols = `id, event_id, environment_id, type, connection_id, provider_config_key, url, status, attempts,
	created_at, updated_at, next_attempt_at, last_status_code, last_error`

func scanDelivery(row pgx.Row) (*herald.Delivery, error) {
	var d herald.Delivery
	var next *time.Time
	if err := row.Scan(&d.ID, &d.EventID, &d.EnvironmentID, &d.Type, &d.ConnectionID, &d.ProviderConfigKey, &d.URL,
		&d.Status, &d.Attempts, &d.CreatedAt, &d.UpdatedAt, &next, &d.LastStatusCode, &d.LastError); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan delivery: %w", wrap(err))
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if next != nil && d.Status == herald.StatusPending {
		t := next.UTC()
		d.NextAttemptAt = &t
	}
	return &d, nil
}

func (s *Store) queryDeliveries(ctx context.Context, q string, args ...any) ([]herald.Delivery, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query deliveries: %w", wrap(err))
	}
	defer rows.Close()
	out := []herald.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, wrap(rows.Err())
}

// GetEvent returns an event of envID and its deliveries.
func (s *Store) GetEvent(ctx context.Context, envID, id string) (*herald.Event, []herald.Delivery, error) {
	var e herald.Event
	var unknown string
	err := s.pool.QueryRow(ctx, `SELECT id, environment_id, type, connection_id, provider_config_key, body, skipped,
		unknown_fields, created_at FROM events WHERE id = $1 AND environment_id = $2`, id, envID).Scan(&e.ID, &e.EnvironmentID,
		&e.Type, &e.ConnectionID, &e.ProviderConfigKey, &e.Body, &e.Skipped, &unknown, &e.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, herald.ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get event: %w", wrap(err))
	}
	e.CreatedAt = e.CreatedAt.UTC()
	if e.UnknownFields, err = herald.DecodeFieldList(unknown); err != nil {
		return nil, nil, fmt.Errorf("get event: %w", err)
	}
	ds, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE event_id = $1 ORDER BY id`, id)
	return &e, ds, err
}

// ListDeliveries returns envID's deliveries newest first, filtered.
func (s *Store) ListDeliveries(ctx context.Context, envID string, f herald.DeliveryFilter) ([]herald.Delivery, error) {
	var where strings.Builder
	args := []any{envID}
	where.WriteString(`environment_id = $1`)
	add := func(cond string, v any) {
		args = append(args, v)
		fmt.Fprintf(&where, " AND "+cond, len(args))
	}
	if f.Status != "" {
		add("status = $%d", f.Status)
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	if f.ConnectionID != "" {
		add("connection_id = $%d", f.ConnectionID)
	}
	if f.ProviderConfigKey != "" {
		add("provider_config_key = $%d", f.ProviderConfigKey)
	}
	if f.Since != nil {
		add("created_at >= $%d", *f.Since)
	}
	if f.Until != nil {
		add("created_at < $%d", *f.Until)
	}
	if f.Cursor != "" {
		add("id < $%d", f.Cursor)
	}
	args = append(args, f.Limit)
	return s.queryDeliveries(ctx, fmt.Sprintf(`SELECT `+deliveryCols+` FROM deliveries WHERE %s ORDER BY id DESC LIMIT $%d`,
		where.String(), len(args)), args...)
}

// GetDelivery returns a delivery of envID with its body and attempt log.
func (s *Store) GetDelivery(ctx context.Context, envID, id string) (*herald.Delivery, []byte, []herald.Attempt, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE id = $1 AND environment_id = $2`, id, envID))
	if err != nil {
		return nil, nil, nil, err
	}
	var body []byte
	if err := s.pool.QueryRow(ctx, `SELECT body FROM events WHERE id = $1`, d.EventID).Scan(&body); err != nil {
		return nil, nil, nil, fmt.Errorf("get delivery body: %w", wrap(err))
	}
	rows, err := s.pool.Query(ctx, `SELECT number, started_at, duration_ms, status_code, error, response_body
		FROM attempts WHERE delivery_id = $1 ORDER BY number`, id)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("get attempts: %w", wrap(err))
	}
	defer rows.Close()
	attempts := []herald.Attempt{}
	for rows.Next() {
		var a herald.Attempt
		if err := rows.Scan(&a.Number, &a.StartedAt, &a.DurationMS, &a.StatusCode, &a.Error, &a.ResponseBody); err != nil {
			return nil, nil, nil, fmt.Errorf("scan attempt: %w", wrap(err))
		}
		a.StartedAt = a.StartedAt.UTC()
		attempts = append(attempts, a)
	}
	return d, body, attempts, wrap(rows.Err())
}
