package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// CreateEnvironment inserts env; a taken name is herald.ErrConflict.
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
			return fmt.Errorf("create environment: %w", err)
		}
		return nil
	})
}

// ListEnvironments returns every environment, oldest first.
func (s *Store) ListEnvironments(ctx context.Context) ([]herald.Environment, error) {
	rows, err := s.r.QueryContext(ctx, envSelect+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
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
			return fmt.Errorf("delete environment: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM environments WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete environment: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		return nil
	})
}

const envSelect = `SELECT id, name, secret_key_hash, signing_key, previous_signing_key, previous_key_expires_at, settings, created_at FROM environments`

type scanner interface{ Scan(dest ...any) error }

func scanEnv(row scanner) (*herald.Environment, error) {
	var e herald.Environment
	var settings string
	var prevExp, created int64
	if err := row.Scan(&e.ID, &e.Name, &e.SecretKeyHash, &e.SigningKey, &e.PreviousSigningKey, &prevExp, &settings, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan environment: %w", err)
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

// UpdateSettings replaces an environment's webhook settings.
func (s *Store) UpdateSettings(ctx context.Context, id string, settings herald.Settings) error {
	b, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE environments SET settings = ? WHERE id = ?`, string(b), id)
		if err != nil {
			return fmt.Errorf("update settings: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		return nil
	})
}

// RotateSigningKey makes newKey current; the old key stays valid for
// Standard Webhooks signatures until previousExpires.
func (s *Store) RotateSigningKey(ctx context.Context, id, newKey string, previousExpires time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE environments SET previous_signing_key = signing_key,
			previous_key_expires_at = ?, signing_key = ? WHERE id = ?`, ms(previousExpires), newKey, id)
		if err != nil {
			return fmt.Errorf("rotate signing key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return herald.ErrNotFound
		}
		return nil
	})
}

// Ingest stores a producer request in one transaction (group-committed
// with other requests), or returns the stored answer for a repeated
// Idempotency-Key.
func (s *Store) Ingest(ctx context.Context, req herald.IngestRequest) ([]byte, error) {
	var replay []byte
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := ms(req.Now)
		if req.IdempotencyKey != "" {
			err := tx.StmtContext(ctx, s.stmts.getIdem).QueryRowContext(ctx, req.EnvironmentID, req.IdempotencyKey,
				now-herald.IdempotencyWindow.Milliseconds()).Scan(&replay)
			if err == nil {
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("ingest: idempotency lookup: %w", err)
			}
		}
		insEvent := tx.StmtContext(ctx, s.stmts.insertEvent)
		insDelivery := tx.StmtContext(ctx, s.stmts.insertDelivery)
		for _, ne := range req.Events {
			e := ne.Event
			if _, err := insEvent.ExecContext(ctx, e.ID, e.EnvironmentID, e.Type, e.ConnectionID, e.ProviderConfigKey,
				e.Body, e.Skipped, herald.EncodeFieldList(e.UnknownFields), ms(e.CreatedAt)); err != nil {
				return fmt.Errorf("ingest: insert event: %w", err)
			}
			for _, d := range ne.Deliveries {
				status := d.Status
				if status == "" {
					status = herald.StatusPending
				}
				if _, err := insDelivery.ExecContext(ctx, d.ID, d.EventID, d.EnvironmentID, d.Type, d.ConnectionID,
					d.ProviderConfigKey, d.URL, status, nullMS(d.NextAttemptAt), nullMS(d.LeaseUntil), ms(d.CreatedAt), ms(d.CreatedAt)); err != nil {
					return fmt.Errorf("ingest: insert delivery: %w", err)
				}
			}
		}
		if req.IdempotencyKey != "" {
			if _, err := tx.StmtContext(ctx, s.stmts.putIdem).ExecContext(ctx, req.EnvironmentID, req.IdempotencyKey, req.Response, now); err != nil {
				return fmt.Errorf("ingest: store idempotency key: %w", err)
			}
		}
		return nil
	})
	return replay, err
}

const deliveryCols = `id, event_id, environment_id, type, connection_id, provider_config_key, url, status, attempts,
	created_at, updated_at, next_attempt_at, last_status_code, last_error`

func scanDelivery(row scanner) (*herald.Delivery, error) {
	var d herald.Delivery
	var created, updated int64
	var next, code sql.NullInt64
	var lastErr sql.NullString
	if err := row.Scan(&d.ID, &d.EventID, &d.EnvironmentID, &d.Type, &d.ConnectionID, &d.ProviderConfigKey, &d.URL,
		&d.Status, &d.Attempts, &created, &updated, &next, &code, &lastErr); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan delivery: %w", err)
	}
	d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
	if next.Valid && d.Status == herald.StatusPending {
		t := fromMS(next.Int64)
		d.NextAttemptAt = &t
	}
	if code.Valid {
		c := int(code.Int64)
		d.LastStatusCode = &c
	}
	if lastErr.Valid {
		d.LastError = &lastErr.String
	}
	return &d, nil
}

func (s *Store) queryDeliveries(ctx context.Context, q string, args ...any) ([]herald.Delivery, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query deliveries: %w", err)
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
	return out, rows.Err()
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
		return nil, nil, fmt.Errorf("get event: %w", err)
	}
	e.CreatedAt = fromMS(created)
	if e.UnknownFields, err = herald.DecodeFieldList(unknown); err != nil {
		return nil, nil, fmt.Errorf("get event: %w", err)
	}
	ds, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE event_id = ? ORDER BY id`, id)
	return &e, ds, err
}

// ListDeliveries returns envID's deliveries newest first, filtered.
func (s *Store) ListDeliveries(ctx context.Context, envID string, f herald.DeliveryFilter) ([]herald.Delivery, error) {
	var where strings.Builder
	args := []any{envID}
	where.WriteString(`environment_id = ?`)
	add := func(cond string, v any) {
		where.WriteString(" AND " + cond)
		args = append(args, v)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.ConnectionID != "" {
		add("connection_id = ?", f.ConnectionID)
	}
	if f.ProviderConfigKey != "" {
		add("provider_config_key = ?", f.ProviderConfigKey)
	}
	if f.Since != nil {
		add("created_at >= ?", ms(*f.Since))
	}
	if f.Until != nil {
		add("created_at < ?", ms(*f.Until))
	}
	if f.Cursor != "" {
		add("id < ?", f.Cursor)
	}
	args = append(args, f.Limit)
	return s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE `+where.String()+` ORDER BY id DESC LIMIT ?`, args...)
}

// GetDelivery returns a delivery of envID with its body and attempt log.
func (s *Store) GetDelivery(ctx context.Context, envID, id string) (*herald.Delivery, []byte, []herald.Attempt, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE id = ? AND environment_id = ?`, id, envID))
	if err != nil {
		return nil, nil, nil, err
	}
	var body []byte
	if err := s.r.QueryRowContext(ctx, `SELECT body FROM events WHERE id = ?`, d.EventID).Scan(&body); err != nil {
		return nil, nil, nil, fmt.Errorf("get delivery body: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT number, started_at, duration_ms, status_code, error, response_body
		FROM attempts WHERE delivery_id = ? ORDER BY number`, id)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("get attempts: %w", err)
	}
	defer rows.Close()
	attempts := []herald.Attempt{}
	for rows.Next() {
		var a herald.Attempt
		var started int64
		var code sql.NullInt64
		var errText, resp sql.NullString
		if err := rows.Scan(&a.Number, &started, &a.DurationMS, &code, &errText, &resp); err != nil {
			return nil, nil, nil, fmt.Errorf("scan attempt: %w", err)
		}
		a.StartedAt = fromMS(started)
		if code.Valid {
			c := int(code.Int64)
			a.StatusCode = &c
		}
		if errText.Valid {
			a.Error = &errText.String
		}
		if resp.Valid {
			a.ResponseBody = &resp.String
		}
		attempts = append(attempts, a)
	}
	return d, body, attempts, rows.Err()
}

// ClaimDue takes back deliveries whose lease ended before req.Now, then
// marks up to req.Limit due deliveries as sending, oldest due first, and
// returns them with their bodies.
func (s *Store) ClaimDue(ctx context.Context, req herald.ClaimRequest) ([]herald.Job, error) {
	var jobs []herald.Job
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		jobs = jobs[:0]
		if _, err := tx.StmtContext(ctx, s.stmts.expire).ExecContext(ctx, ms(req.Now), ms(req.Now)); err != nil {
			return fmt.Errorf("claim: reclaim expired leases: %w", err)
		}
		args := []any{ms(req.LeaseUntil), ms(req.Now), ms(req.Now)}
		var exclude string
		if len(req.ExcludeURLs) > 0 {
			exclude = " AND url NOT IN (?" + strings.Repeat(",?", len(req.ExcludeURLs)-1) + ")"
			for _, u := range req.ExcludeURLs {
				args = append(args, u)
			}
		}
		args = append(args, req.Limit)
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET status = 'sending', lease_until = ?, updated_at = ?
			WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?`+exclude+`
			ORDER BY next_attempt_at LIMIT ?)
			RETURNING id, event_id, environment_id, url, attempts`, args...)
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		for rows.Next() {
			var j herald.Job
			if err := rows.Scan(&j.DeliveryID, &j.EventID, &j.EnvironmentID, &j.URL, &j.Attempts); err != nil {
				rows.Close()
				return fmt.Errorf("claim: scan: %w", err)
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		body := tx.StmtContext(ctx, s.stmts.eventBody)
		bodies := make(map[string][]byte, len(jobs))
		for i := range jobs {
			b, ok := bodies[jobs[i].EventID]
			if !ok {
				if err := body.QueryRowContext(ctx, jobs[i].EventID).Scan(&b); err != nil {
					return fmt.Errorf("claim: body of event %s: %w", jobs[i].EventID, err)
				}
				bodies[jobs[i].EventID] = b
			}
			jobs[i].Body = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// NextDue returns the earliest next_attempt_at among pending deliveries.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(next.Int64), true, nil
}

// RecordAttempts writes attempt rows and the deliveries' new states.
func (s *Store) RecordAttempts(ctx context.Context, results []herald.AttemptResult) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ins := tx.StmtContext(ctx, s.stmts.insertAttempt)
		upd := tx.StmtContext(ctx, s.stmts.updateDelivery)
		for _, r := range results {
			a := r.Attempt
			end := a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
			if _, err := ins.ExecContext(ctx, r.DeliveryID, a.Number, ms(a.StartedAt), a.DurationMS, a.StatusCode, a.Error,
				a.ResponseBody, r.DeliveryID); err != nil {
				return fmt.Errorf("record attempt: %w", err)
			}
			if _, err := upd.ExecContext(ctx, r.Status, a.Number, nullMS(r.NextAttemptAt), a.StatusCode, a.Error,
				ms(end), r.DeliveryID); err != nil {
				return fmt.Errorf("record delivery state: %w", err)
			}
		}
		return nil
	})
}

// RenewLeases extends the leases of deliveries this process still holds.
func (s *Store) RenewLeases(ctx context.Context, ids []string, until time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.stmts.renew)
		for _, id := range ids {
			if _, err := st.ExecContext(ctx, ms(until), id); err != nil {
				return fmt.Errorf("renew lease: %w", err)
			}
		}
		return nil
	})
}

// Release puts claimed deliveries back to pending, due at now.
func (s *Store) Release(ctx context.Context, ids []string, now time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.stmts.release)
		for _, id := range ids {
			if _, err := st.ExecContext(ctx, ms(now), ms(now), id); err != nil {
				return fmt.Errorf("release: %w", err)
			}
		}
		return nil
	})
}

var _ herald.Store = (*Store)(nil)

// AddAdminKeyHash stores the hash of an admin key created by herald.
func (s *Store) AddAdminKeyHash(ctx context.Context, hash []byte) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO admin_keys (key_hash, created_at) VALUES (?, ?)`, hash, time.Now().UnixMilli())
		return err
	})
}

// AdminKeyHashes lists the stored admin key hashes.
func (s *Store) AdminKeyHashes(ctx context.Context) ([][]byte, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key_hash FROM admin_keys`)
	if err != nil {
		return nil, fmt.Errorf("admin keys: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
