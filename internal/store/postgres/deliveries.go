package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const deliveryCols = `id, event_id, environment_id, type, connection_id, provider_config_key, url, status, attempts,
	created_at, updated_at, next_attempt_at, last_status_code, last_error, round_start`

func scanDelivery(row pgx.Row) (*herald.Delivery, error) {
	var d herald.Delivery
	var next *time.Time
	if err := row.Scan(&d.ID, &d.EventID, &d.EnvironmentID, &d.Type, &d.ConnectionID, &d.ProviderConfigKey, &d.URL,
		&d.Status, &d.Attempts, &d.CreatedAt, &d.UpdatedAt, &next, &d.LastStatusCode, &d.LastError, &d.RoundStart); err != nil {
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

// ListDeliveries returns envID's deliveries newest first, filtered.
func (s *Store) ListDeliveries(ctx context.Context, envID string, f herald.DeliveryFilter) ([]herald.Delivery, error) {
	where, args := logWhere(envID, f)
	args = append(args, f.Limit)
	return s.queryDeliveries(ctx, fmt.Sprintf(`SELECT `+deliveryCols+` FROM deliveries WHERE %s ORDER BY id DESC LIMIT $%d`,
		where, len(args)), args...)
}

// GetDelivery returns a delivery of envID with the body it sends and its
// attempt log.
func (s *Store) GetDelivery(ctx context.Context, envID, id string) (*herald.Delivery, []byte, []herald.Attempt, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE id = $1 AND environment_id = $2`, id, envID))
	if err != nil {
		return nil, nil, nil, err
	}
	// The delivery's own body when it has one, else its event's.
	var body []byte
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(d.body, e.body) FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.id = $1`, id).Scan(&body); err != nil {
		return nil, nil, nil, fmt.Errorf("get delivery body: %w", wrap(err))
	}
	rows, err := s.pool.Query(ctx, attemptLog, id)
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

// attemptLog is a delivery's attempts in order: the rows of attempts,
// then the latest attempt, on the delivery's row (migration 0013; a row
// written before it holds none, and keeps all its attempts in attempts).
const attemptLog = `SELECT number, started_at, duration_ms, status_code, error, response_body
		FROM attempts WHERE delivery_id = $1
	UNION ALL
	SELECT attempts, last_started_at, last_duration_ms, last_status_code, last_attempt_error, last_response_body
		FROM deliveries WHERE id = $1 AND last_started_at IS NOT NULL
	ORDER BY number`

// logWhere builds the WHERE clause and arguments of a log listing (events
// or deliveries: the columns are the same) of envID, newest first from
// the cursor on.
func logWhere(envID string, f herald.DeliveryFilter) (string, []any) {
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
	return where.String(), args
}
