package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

const endpointCols = `id, environment_id, url, disabled, coalesce(disabled_reason, ''), disabled_at, consecutive_failures,
	failing_since, rate_limit_per_s, max_concurrency, headers, created_at, updated_at, circuit_open_until`

func scanEndpoint(row pgx.Row) (*herald.Endpoint, error) {
	var e herald.Endpoint
	var headers []byte
	if err := row.Scan(&e.ID, &e.EnvironmentID, &e.URL, &e.Disabled, &e.DisabledReason, &e.DisabledAt, &e.ConsecutiveFailures,
		&e.FailingSince, &e.RateLimitPerS, &e.MaxConcurrency, &headers, &e.CreatedAt, &e.UpdatedAt, &e.CircuitOpenUntil); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan endpoint: %w", wrap(err))
	}
	if headers != nil {
		if err := json.Unmarshal(headers, &e.Headers); err != nil {
			return nil, fmt.Errorf("endpoint %s headers: %w", e.ID, err)
		}
	}
	for _, t := range []*time.Time{e.DisabledAt, e.FailingSince, e.CircuitOpenUntil, &e.CreatedAt, &e.UpdatedAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return &e, nil
}

// insertEndpoints makes sure environment $1 has an endpoint for each URL
// of $3 (ids $2, used for those it has none for yet), made at $4. URLs
// are inserted in order, so that two transactions adding the same ones
// never wait for each other in a cycle.
const insertEndpoints = `INSERT INTO endpoints (id, environment_id, url, created_at, updated_at)
	SELECT u.id, $1, u.url, $4, $4 FROM unnest($2::text[], $3::text[]) AS u(id, url)
	ORDER BY u.url
	ON CONFLICT (environment_id, url) DO NOTHING`

// endpointArgs are insertEndpoints' arguments, with a new id (UUIDv7) for
// each URL.
func endpointArgs(envID string, urls []string, now time.Time) ([]any, error) {
	ids, err := newIDs(len(urls))
	if err != nil {
		return nil, err
	}
	return []any{envID, ids, urls, now}, nil
}

// addEndpoints runs insertEndpoints in tx, when there are urls.
func addEndpoints(ctx context.Context, tx pgx.Tx, envID string, urls []string, now time.Time) error {
	if len(urls) == 0 {
		return nil
	}
	args, err := endpointArgs(envID, urls, now)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, insertEndpoints, args...)
	return err
}

// newIDs returns n new UUIDv7 strings, time-ordered like the other ids.
func newIDs(n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("endpoint id: %w", err)
		}
		ids[i] = id.String()
	}
	return ids, nil
}

// ListEndpoints lists envID's endpoints in id order after page.Cursor, a
// range of endpoints_environment.
func (s *Store) ListEndpoints(ctx context.Context, envID string, page herald.Page) ([]herald.Endpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE environment_id = $1 AND id > $2
		ORDER BY id LIMIT $3`, envID, page.Cursor, page.Limit)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", wrap(err))
	}
	defer rows.Close()
	out := []herald.Endpoint{}
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list endpoints: %w", wrap(err))
	}
	return out, nil
}

// Endpoint returns envID's endpoint id.
func (s *Store) Endpoint(ctx context.Context, envID, id string) (*herald.Endpoint, error) {
	return scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE environment_id = $1 AND id = $2`,
		envID, id))
}

// EndpointByURL returns envID's endpoint for url, by the unique
// (environment_id, url) index: the dispatcher asks before each attempt.
func (s *Store) EndpointByURL(ctx context.Context, envID, url string) (*herald.Endpoint, error) {
	return scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE environment_id = $1 AND url = $2`,
		envID, url))
}

// UpdateEndpoint sets the fields p sets, in one statement.
func (s *Store) UpdateEndpoint(ctx context.Context, envID, id string, p herald.EndpointPatch, now time.Time) (*herald.Endpoint, error) {
	args := []any{envID, id, now}
	sets := []string{"updated_at = $3"}
	set := func(col, cast string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d::%s", col, len(args), cast))
	}
	if p.SetRateLimit {
		set("rate_limit_per_s", "integer", p.RateLimitPerS)
	}
	if p.SetConcurrency {
		set("max_concurrency", "integer", p.MaxConcurrency)
	}
	if p.SetHeaders {
		var headers *string // NULL: none
		if len(p.Headers) > 0 {
			b, err := json.Marshal(p.Headers)
			if err != nil {
				return nil, err
			}
			h := string(b)
			headers = &h
		}
		set("headers", "jsonb", headers)
	}
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `UPDATE endpoints SET `+strings.Join(sets, ", ")+`
		WHERE environment_id = $1 AND id = $2 RETURNING `+endpointCols, args...))
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return nil, fmt.Errorf("update endpoint: %w", err)
	}
	return e, err
}

// DisableEndpoint disables the endpoint in one statement; one already
// disabled keeps its reason and time (the CASEs read the row as it was).
// Its deliveries are left alone: the dispatcher holds each as it claims
// it (HoldDelivery), so that a delivery being attempted right now is not
// touched.
func (s *Store) DisableEndpoint(ctx context.Context, envID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `UPDATE endpoints SET disabled = true,
			disabled_reason = CASE WHEN disabled THEN disabled_reason ELSE $3 END,
			disabled_at = CASE WHEN disabled THEN disabled_at ELSE $4 END,
			updated_at = CASE WHEN disabled THEN updated_at ELSE $4 END
		WHERE environment_id = $1 AND id = $2 RETURNING `+endpointCols, envID, id, reason, now))
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return nil, fmt.Errorf("disable endpoint: %w", err)
	}
	return e, err
}

// EnableEndpoint enables the endpoint and releases its held deliveries in
// one transaction, and wakes the other processes' claimers.
//
// The endpoint row is updated first: its lock makes a HoldDelivery under
// way (which reads the row FOR SHARE) either finish first, and then its
// delivery is released here, or wait and find the endpoint enabled. The
// held deliveries are found by deliveries_held and locked in id order;
// ClaimDue takes pending deliveries by next_attempt_at alone, so the
// creation order (created_at, id: ids are time-ordered UUIDv7) is written
// into it, a microsecond apart from now on.
func (s *Store) EnableEndpoint(ctx context.Context, envID, id string, now time.Time) (*herald.Endpoint, int, error) {
	var e *herald.Endpoint
	var released int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		e, err = scanEndpoint(tx.QueryRow(ctx, `UPDATE endpoints SET disabled = false, disabled_reason = NULL, disabled_at = NULL,
				consecutive_failures = 0, failing_since = NULL, circuit_open_until = NULL, updated_at = $3
			WHERE environment_id = $1 AND id = $2 RETURNING `+endpointCols, envID, id, now))
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `WITH locked AS (
				SELECT id, created_at FROM deliveries WHERE environment_id = $1 AND url = $2 AND status = 'held'
				ORDER BY id FOR NO KEY UPDATE),
			ordered AS (
				SELECT id, row_number() OVER (ORDER BY created_at, id) - 1 AS n FROM locked)
			UPDATE deliveries d SET status = 'pending', next_attempt_at = $3::timestamptz + ordered.n * interval '1 microsecond',
				lease_until = NULL, updated_at = $3::timestamptz
			FROM ordered WHERE d.id = ordered.id`, envID, e.URL, now)
		if err != nil {
			return err
		}
		released = int(tag.RowsAffected())
		if released > 0 {
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, Channel)
		}
		return err
	})
	switch {
	case errors.Is(err, herald.ErrNotFound):
		return nil, 0, err
	case err != nil:
		return nil, 0, fmt.Errorf("enable endpoint: %w", wrap(err))
	}
	return e, released, nil
}

// HoldDelivery holds a claimed delivery, in one statement: only under
// lease and only while its endpoint is disabled. The endpoint row is read
// FOR SHARE (when disabled: an enabled one is not locked), so that an
// EnableEndpoint committing meanwhile is waited for and seen, and one that
// comes after sees this delivery held and releases it; the share lock
// never blocks another hold.
func (s *Store) HoldDelivery(ctx context.Context, lease herald.Lease, envID, url string, now time.Time) (bool, error) {
	tag, err := s.queue.Exec(ctx, `UPDATE deliveries SET status = 'held', next_attempt_at = NULL, lease_until = NULL, updated_at = $5
		WHERE id = $1 AND lease_gen = $2 AND status = 'sending' AND environment_id = $3 AND url = $4
		AND EXISTS (SELECT 1 FROM endpoints WHERE environment_id = $3 AND url = $4 AND disabled FOR SHARE)`,
		lease.DeliveryID, lease.Gen, envID, url, now)
	if err != nil {
		return false, fmt.Errorf("hold delivery: %w", wrap(err))
	}
	return tag.RowsAffected() == 1, nil
}

// SetCircuit opens the endpoint's circuit until until, or closes it
// (nil); it writes nothing when the circuit already is so.
func (s *Store) SetCircuit(ctx context.Context, envID, id string, until *time.Time, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE endpoints SET circuit_open_until = $3, updated_at = $4
		WHERE environment_id = $1 AND id = $2 AND circuit_open_until IS DISTINCT FROM $3`, envID, id, until, now); err != nil {
		return fmt.Errorf("set circuit: %w", wrap(err))
	}
	return nil
}

// DeferDeliveries gives claimed deliveries back, due at until, with reason
// as their last error and their attempts untouched: those still under
// their lease, locked in id order as Release does.
func (s *Store) DeferDeliveries(ctx context.Context, leases []herald.Lease, until time.Time, reason string, now time.Time) error {
	ids, gens := leaseArrays(leases)
	if _, err := s.queue.Exec(ctx, `WITH held AS (
			SELECT d.id FROM deliveries d JOIN unnest($4::text[], $5::bigint[]) AS u(id, gen) ON d.id = u.id AND d.lease_gen = u.gen
			WHERE d.status = 'sending' ORDER BY d.id FOR NO KEY UPDATE OF d)
		UPDATE deliveries d SET status = 'pending', lease_until = NULL, next_attempt_at = $1, last_error = $2, updated_at = $3
		FROM held WHERE d.id = held.id`, until, reason, now, ids, gens); err != nil {
		return fmt.Errorf("defer deliveries: %w", wrap(err))
	}
	return nil
}

// durationCols are endpoint_minutes' histogram columns, h0 … h17.
var durationCols = func() []string {
	cols := make([]string, herald.DurationBuckets)
	for i := range cols {
		cols[i] = fmt.Sprintf("h%d", i)
	}
	return cols
}()

// sumDurations is the sums of the histogram columns, as bigints.
var sumDurations = func() string {
	sums := make([]string, len(durationCols))
	for i, c := range durationCols {
		sums[i] = fmt.Sprintf("sum(%s)::bigint", c)
	}
	return strings.Join(sums, ", ")
}()

// EndpointStats sums the minutes of urls from since's minute on, a range
// of endpoint_minutes' primary key for each URL. The minute is cut in Go,
// as RecordAttempts cuts the attempts' (whole minutes of UTC, whatever
// the session's time zone).
func (s *Store) EndpointStats(ctx context.Context, envID string, urls []string, since time.Time) (map[string]herald.EndpointStats, error) {
	out := map[string]herald.EndpointStats{}
	if len(urls) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT url, sum(attempts)::bigint, sum(successes)::bigint, `+sumDurations+`
		FROM endpoint_minutes WHERE environment_id = $1 AND url = ANY($2) AND minute >= $3
		GROUP BY url`, envID, urls, since.Truncate(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("endpoint stats: %w", wrap(err))
	}
	defer rows.Close()
	for rows.Next() {
		var url string
		var st herald.EndpointStats
		dest := []any{&url, &st.Attempts, &st.Successes}
		for i := range st.Durations {
			dest = append(dest, &st.Durations[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("endpoint stats: %w", wrap(err))
		}
		out[url] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("endpoint stats: %w", wrap(err))
	}
	return out, nil
}
