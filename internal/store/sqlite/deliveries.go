package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	herald "github.com/heraldhq/herald"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const deliveryCols = `id, event_id, environment_id, type, connection_id, provider_config_key, url, status, attempts,
	created_at, updated_at, next_attempt_at, last_status_code, last_error, round_start`

func scanDelivery(row scanner) (*herald.Delivery, error) {
	var d herald.Delivery
	var created, updated int64
	var next, code sql.NullInt64
	var lastErr sql.NullString
	if err := row.Scan(&d.ID, &d.EventID, &d.EnvironmentID, &d.Type, &d.ConnectionID, &d.ProviderConfigKey, &d.URL,
		&d.Status, &d.Attempts, &created, &updated, &next, &code, &lastErr, &d.RoundStart); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan delivery: %w", unavailable(err))
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
		return nil, fmt.Errorf("query deliveries: %w", unavailable(err))
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

// ListDeliveries returns envID's deliveries newest first, filtered.
func (s *Store) ListDeliveries(ctx context.Context, envID string, f herald.DeliveryFilter) ([]herald.Delivery, error) {
	where, args := logWhere(envID, f)
	args = append(args, f.Limit)
	return s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
}

// GetDelivery returns a delivery of envID with the body it sends and its
// attempt log.
func (s *Store) GetDelivery(ctx context.Context, envID, id string) (*herald.Delivery, []byte, []herald.Attempt, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE id = ? AND environment_id = ?`, id, envID))
	if err != nil {
		return nil, nil, nil, err
	}
	// The delivery's own body when it has one, else its event's.
	var body []byte
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(d.body, e.body) FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.id = ?`, id).Scan(&body); err != nil {
		return nil, nil, nil, fmt.Errorf("get delivery body: %w", unavailable(err))
	}
	// The attempts before the latest, then the latest, on the delivery's
	// row (migration 0014; rows older than it have none there).
	rows, err := s.r.QueryContext(ctx, `SELECT number, started_at, duration_ms, status_code, error, response_body
		FROM attempts WHERE delivery_id = ?1
		UNION ALL
		SELECT attempts, last_started_at, last_duration_ms, last_status_code, last_attempt_error, last_response_body
		FROM deliveries WHERE id = ?1 AND last_started_at IS NOT NULL
		ORDER BY 1`, id)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("get attempts: %w", unavailable(err))
	}
	defer rows.Close()
	attempts := []herald.Attempt{}
	for rows.Next() {
		var a herald.Attempt
		var started int64
		var code sql.NullInt64
		var errText, resp sql.NullString
		if err := rows.Scan(&a.Number, &started, &a.DurationMS, &code, &errText, &resp); err != nil {
			return nil, nil, nil, fmt.Errorf("scan attempt: %w", unavailable(err))
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

// logWhere builds the WHERE clause and arguments of a log listing (events
// or deliveries: the columns are the same) of envID, newest first from
// the cursor on.
func logWhere(envID string, f herald.DeliveryFilter) (string, []any) {
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
	return where.String(), args
}
