package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
)

const endpointCols = `id, environment_id, url, disabled, disabled_reason, disabled_at, consecutive_failures, failing_since,
	rate_limit_per_s, max_concurrency, headers, created_at, updated_at, circuit_open_until`

func scanEndpoint(row scanner) (*herald.Endpoint, error) {
	var e herald.Endpoint
	var reason, headers sql.NullString
	var disabledAt, failingSince, rate, conc, circuit sql.NullInt64
	var created, updated int64
	if err := row.Scan(&e.ID, &e.EnvironmentID, &e.URL, &e.Disabled, &reason, &disabledAt, &e.ConsecutiveFailures,
		&failingSince, &rate, &conc, &headers, &created, &updated, &circuit); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan endpoint: %w", unavailable(err))
	}
	e.DisabledReason = reason.String
	e.DisabledAt, e.FailingSince, e.CircuitOpenUntil = nullTime(disabledAt), nullTime(failingSince), nullTime(circuit)
	e.RateLimitPerS, e.MaxConcurrency = nullInt(rate), nullInt(conc)
	if headers.Valid {
		if err := json.Unmarshal([]byte(headers.String), &e.Headers); err != nil {
			return nil, fmt.Errorf("endpoint %s: headers: %w", e.ID, err)
		}
	}
	e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
	return &e, nil
}

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func nullInt(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	n := int(v.Int64)
	return &n
}

// newEndpointID makes an endpoint's id: a UUIDv7, so that ids sort by
// creation, as those the migration made for the URLs already in use.
func newEndpointID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("endpoint id: %w", err)
	}
	return id.String(), nil
}

// ensureEndpoints creates envID's endpoints for urls that have none yet,
// in tx: a statement that only reads the unique index when they all exist
// (the common case: settings saved again, a connection rewritten).
func ensureEndpoints(ctx context.Context, tx *sql.Tx, envID string, urls []string, now time.Time) error {
	if len(urls) == 0 {
		return nil
	}
	args := make([]any, 0, 5*len(urls))
	for _, u := range urls {
		id, err := newEndpointID()
		if err != nil {
			return err
		}
		args = append(args, id, envID, u, ms(now), ms(now))
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO endpoints (id, environment_id, url, created_at, updated_at)
		VALUES `+placeholders(len(urls), "(?, ?, ?, ?, ?)")+` ON CONFLICT (environment_id, url) DO NOTHING`, args...)
	if isForeignKey(err) {
		return herald.ErrEnvironmentDeleted
	}
	if err != nil {
		return fmt.Errorf("endpoints: %w", unavailable(err))
	}
	return nil
}

// ListEndpoints lists envID's endpoints in id order after page.Cursor, a
// range of endpoints_environment.
func (s *Store) ListEndpoints(ctx context.Context, envID string, page herald.Page) ([]herald.Endpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE environment_id = ? AND id > ?
		ORDER BY id LIMIT ?`, envID, page.Cursor, page.Limit)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", unavailable(err))
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
		return nil, fmt.Errorf("list endpoints: %w", unavailable(err))
	}
	return out, nil
}

// Endpoint returns envID's endpoint id.
func (s *Store) Endpoint(ctx context.Context, envID, id string) (*herald.Endpoint, error) {
	return scanEndpoint(s.r.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = ? AND environment_id = ?`,
		id, envID))
}

// EndpointByURL returns envID's endpoint for url.
func (s *Store) EndpointByURL(ctx context.Context, envID, url string) (*herald.Endpoint, error) {
	return scanEndpoint(s.r.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE environment_id = ? AND url = ?`,
		envID, url))
}

// UpdateEndpoint applies p to envID's endpoint id at now.
func (s *Store) UpdateEndpoint(ctx context.Context, envID, id string, p herald.EndpointPatch, now time.Time) (*herald.Endpoint, error) {
	set := []string{"updated_at = ?"}
	args := []any{ms(now)}
	if p.SetRateLimit {
		set = append(set, "rate_limit_per_s = ?")
		args = append(args, nullIntArg(p.RateLimitPerS))
	}
	if p.SetConcurrency {
		set = append(set, "max_concurrency = ?")
		args = append(args, nullIntArg(p.MaxConcurrency))
	}
	if p.SetHeaders {
		var headers any // none: NULL
		if len(p.Headers) > 0 {
			b, err := json.Marshal(p.Headers)
			if err != nil {
				return nil, err
			}
			headers = string(b)
		}
		set = append(set, "headers = ?")
		args = append(args, headers)
	}
	return s.writeEndpoint(ctx, "update endpoint", `UPDATE endpoints SET `+strings.Join(set, ", ")+`
		WHERE id = ? AND environment_id = ? RETURNING `+endpointCols, append(args, id, envID)...)
}

func nullIntArg(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// writeEndpoint runs q, an UPDATE of one endpoint RETURNING endpointCols,
// in a write of the group commit. No such endpoint is ErrNotFound, which
// writes nothing and so does not fail the batch.
func (s *Store) writeEndpoint(ctx context.Context, what, q string, args ...any) (*herald.Endpoint, error) {
	var e *herald.Endpoint
	var refused error // nothing written: the group commit goes on
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		e, refused = nil, nil
		e, err = scanEndpoint(tx.QueryRowContext(ctx, q, args...))
		if errors.Is(err, herald.ErrNotFound) {
			refused = err
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// DisableEndpoint disables envID's endpoint id with reason at now; one
// already disabled keeps its reason, time and updated_at (the SET
// expressions read the row as it was).
func (s *Store) DisableEndpoint(ctx context.Context, envID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	return s.writeEndpoint(ctx, "disable endpoint", `UPDATE endpoints SET disabled = 1,
			disabled_reason = CASE WHEN disabled = 1 THEN disabled_reason ELSE ? END,
			disabled_at = CASE WHEN disabled = 1 THEN disabled_at ELSE ? END,
			updated_at = CASE WHEN disabled = 1 THEN updated_at ELSE ? END
		WHERE id = ? AND environment_id = ? RETURNING `+endpointCols, reason, ms(now), ms(now), id, envID)
}

// EnableEndpoint enables envID's endpoint id, clears its failures, and
// makes its held deliveries (a range of deliveries_held) pending, due at
// now, in the same transaction. They share one due time: ClaimDue takes
// ties in id order, which is creation order (UUIDv7 ids made at ingest),
// so they go oldest first without being spread over later due times.
func (s *Store) EnableEndpoint(ctx context.Context, envID, id string, now time.Time) (*herald.Endpoint, int, error) {
	var e *herald.Endpoint
	var released int64
	var refused error // nothing written: the group commit goes on
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		e, released, refused = nil, 0, nil
		e, err = scanEndpoint(tx.QueryRowContext(ctx, `UPDATE endpoints SET disabled = 0, disabled_reason = NULL,
				disabled_at = NULL, consecutive_failures = 0, failing_since = NULL, circuit_open_until = NULL,
				updated_at = ?
			WHERE id = ? AND environment_id = ? RETURNING `+endpointCols, ms(now), id, envID))
		if errors.Is(err, herald.ErrNotFound) {
			refused = err
			return nil
		}
		if err != nil {
			return fmt.Errorf("enable endpoint: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_until = NULL,
			updated_at = ? WHERE environment_id = ? AND url = ? AND status = 'held'`, ms(now), ms(now), envID, e.URL)
		if err != nil {
			return fmt.Errorf("enable endpoint: release held deliveries: %w", unavailable(err))
		}
		released, err = res.RowsAffected()
		return err
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, 0, err
	}
	return e, int(released), nil
}

// HoldDelivery holds a claimed delivery of the endpoint (envID, url) while
// that endpoint is disabled, in one statement: the lease and the
// endpoint are checked where the row is written. One writer: no enable
// can come between the check and the write.
func (s *Store) HoldDelivery(ctx context.Context, lease herald.Lease, envID, url string, now time.Time) (bool, error) {
	var held bool
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'held', next_attempt_at = NULL, lease_until = NULL,
				updated_at = ?1
			WHERE id = ?2 AND lease_gen = ?3 AND status = 'sending' AND environment_id = ?4 AND url = ?5
			AND EXISTS (SELECT 1 FROM endpoints WHERE environment_id = ?4 AND url = ?5 AND disabled = 1)`,
			ms(now), lease.DeliveryID, lease.Gen, envID, url)
		if err != nil {
			return fmt.Errorf("hold delivery: %w", unavailable(err))
		}
		n, err := res.RowsAffected()
		held = n > 0
		return err
	})
	if err != nil {
		return false, err
	}
	return held, nil
}

// SetCircuit opens envID's endpoint id's circuit until until, or closes
// it (nil).
func (s *Store) SetCircuit(ctx context.Context, envID, id string, until *time.Time, now time.Time) error {
	var open any
	if until != nil {
		open = ms(*until)
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET circuit_open_until = ?, updated_at = ?
			WHERE id = ? AND environment_id = ? AND circuit_open_until IS NOT ?`, open, ms(now), id, envID, open); err != nil {
			return fmt.Errorf("set circuit: %w", unavailable(err))
		}
		return nil
	})
}

// DeferDeliveries gives claimed deliveries back, due at until, with reason
// as their last error, their attempts untouched: each only while it is
// still under its lease.
func (s *Store) DeferDeliveries(ctx context.Context, leases []herald.Lease, until time.Time, reason string, now time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = ?,
				last_error = ?, updated_at = ?
			WHERE id = ? AND lease_gen = ? AND status = 'sending'`)
		if err != nil {
			return fmt.Errorf("defer deliveries: %w", unavailable(err))
		}
		defer st.Close()
		for _, l := range leases {
			if _, err := st.ExecContext(ctx, ms(until), reason, ms(now), l.DeliveryID, l.Gen); err != nil {
				return fmt.Errorf("defer deliveries: %w", unavailable(err))
			}
		}
		return nil
	})
}

// minuteMS is the start of t's minute, in unix ms.
func minuteMS(t time.Time) int64 {
	v := ms(t)
	m := v % 60_000
	if m < 0 {
		m += 60_000
	}
	return v - m
}

// endpointKey names an endpoint: its environment and URL.
type endpointKey struct{ env, url string }

// minuteFigures are a batch's counted attempts of one endpoint in one
// minute (a row of endpoint_minutes to add to).
type minuteFigures struct {
	attempts, successes int64
	durations           [herald.DurationBuckets]int64
}

// endpointRun is a batch's effect on an endpoint's consecutive failures:
// its last success, and the failures after it (or all of them).
type endpointRun struct {
	ok    int // index of the last success in the batch; -1: none
	fails int
	since time.Time // start of the first of the failures
	last  time.Time // end of the latest attempt, the time of a new row
}

// healthTally gathers what a RecordAttempts batch adds to its endpoints,
// so that each is written once per batch whatever its number of results.
type healthTally struct {
	counted []int // indexes of the results that count
	minutes map[minuteKey]*minuteFigures
	runs    map[endpointKey]*endpointRun
}

type minuteKey struct {
	endpointKey
	minute int64
}

func newHealthTally() *healthTally {
	return &healthTally{minutes: map[minuteKey]*minuteFigures{}, runs: map[endpointKey]*endpointRun{}}
}

// startsAfter orders results by attempt start, then by their place in the
// batch.
func startsAfter(results []herald.AttemptResult, i, j int) bool {
	a, b := results[i].Attempt.StartedAt, results[j].Attempt.StartedAt
	return a.After(b) || (a.Equal(b) && i > j)
}

// add counts results[i], a success or a failure whose outcome was
// written.
func (h *healthTally) add(results []herald.AttemptResult, i int) {
	r := &results[i]
	k := endpointKey{r.EnvironmentID, r.URL}
	mk := minuteKey{k, minuteMS(r.Attempt.StartedAt)}
	f := h.minutes[mk]
	if f == nil {
		f = &minuteFigures{}
		h.minutes[mk] = f
	}
	success := r.Health == herald.HealthSuccess
	f.attempts++
	if success {
		f.successes++
	}
	f.durations[herald.DurationBucket(r.Attempt.DurationMS)]++
	run := h.runs[k]
	if run == nil {
		run = &endpointRun{ok: -1}
		h.runs[k] = run
	}
	if success && (run.ok < 0 || startsAfter(results, i, run.ok)) {
		run.ok = i
	}
	if end := r.Attempt.StartedAt.Add(time.Duration(r.Attempt.DurationMS) * time.Millisecond); end.After(run.last) {
		run.last = end
	}
	h.counted = append(h.counted, i)
}

// recordHealth adds a batch's tally to its endpoints, in tx: one upsert
// per endpoint and minute into endpoint_minutes, and one per endpoint
// into endpoints (made if missing), never one per result: RecordAttempts
// is the dispatcher's hot path. Attempts count in the order they started:
// a success resets the failures, so an endpoint with a success in the
// batch ends with the failures after its last one; otherwise the batch's
// failures add to the stored ones, which keep their start.
func (s *Store) recordHealth(ctx context.Context, tx *sql.Tx, results []herald.AttemptResult, h *healthTally) error {
	for _, i := range h.counted {
		r := &results[i]
		if r.Health != herald.HealthFailure {
			continue
		}
		run := h.runs[endpointKey{r.EnvironmentID, r.URL}]
		if run.ok >= 0 && !startsAfter(results, i, run.ok) {
			continue
		}
		if run.fails == 0 || r.Attempt.StartedAt.Before(run.since) {
			run.since = r.Attempt.StartedAt
		}
		run.fails++
	}
	minute := tx.StmtContext(ctx, s.stmts.endpointMinute)
	args := make([]any, 0, 6+herald.DurationBuckets)
	for k, f := range h.minutes {
		args = append(args[:0], k.env, k.url, k.minute, f.attempts, f.successes)
		for _, n := range f.durations {
			args = append(args, n)
		}
		if _, err := minute.ExecContext(ctx, append(args, k.env)...); err != nil {
			return fmt.Errorf("record endpoint figures: %w", unavailable(err))
		}
	}
	recovered := tx.StmtContext(ctx, s.stmts.endpointRecovered)
	failing := tx.StmtContext(ctx, s.stmts.endpointFailing)
	for k, run := range h.runs {
		id, err := newEndpointID()
		if err != nil {
			return err
		}
		st := failing
		if run.ok >= 0 {
			st = recovered
		}
		var since any // NULL with no failure
		if run.fails > 0 {
			since = ms(run.since)
		}
		if _, err := st.ExecContext(ctx, id, k.env, k.url, run.fails, since, ms(run.last), ms(run.last), k.env); err != nil {
			return fmt.Errorf("record endpoint failures: %w", unavailable(err))
		}
	}
	return nil
}

// Statements of recordHealth. Each inserts only while the environment
// exists, so that a result naming a deleted one is dropped instead of
// failing its batch on the foreign key.
var (
	endpointMinuteSQL = `INSERT INTO endpoint_minutes (environment_id, url, minute, attempts, successes, ` +
		strings.Join(histCols, ", ") + `)
		SELECT ?, ?, ?, ?, ?, ` + placeholders(herald.DurationBuckets, "?") + `
		WHERE EXISTS (SELECT 1 FROM environments WHERE id = ?)
		ON CONFLICT (environment_id, url, minute) DO UPDATE SET attempts = attempts + excluded.attempts,
			successes = successes + excluded.successes, ` + histAdd()
	endpointUpsert = `INSERT INTO endpoints (id, environment_id, url, consecutive_failures, failing_since, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM environments WHERE id = ?)
		ON CONFLICT (environment_id, url) DO UPDATE SET `
	// A batch with a success sets the failures after it; the WHERE spares
	// the write when nothing changes (a healthy endpoint stays at 0).
	endpointRecoveredSQL = endpointUpsert + `consecutive_failures = excluded.consecutive_failures,
			failing_since = excluded.failing_since
		WHERE endpoints.consecutive_failures <> excluded.consecutive_failures
			OR endpoints.failing_since IS NOT excluded.failing_since`
	endpointFailingSQL = endpointUpsert + `consecutive_failures = endpoints.consecutive_failures + excluded.consecutive_failures,
			failing_since = coalesce(endpoints.failing_since, excluded.failing_since)`
)

func histAdd() string {
	set := make([]string, len(histCols))
	for i, c := range histCols {
		set[i] = c + " = " + c + " + excluded." + c
	}
	return strings.Join(set, ", ")
}

// histCols are endpoint_minutes' histogram columns, h0 to h17.
var histCols = func() []string {
	cols := make([]string, herald.DurationBuckets)
	for i := range cols {
		cols[i] = "h" + strconv.Itoa(i)
	}
	return cols
}()

// EndpointStats sums envID's per-minute figures of urls from since's
// minute on: for each URL, a range of endpoint_minutes' primary key.
func (s *Store) EndpointStats(ctx context.Context, envID string, urls []string, since time.Time) (map[string]herald.EndpointStats, error) {
	out := map[string]herald.EndpointStats{}
	if len(urls) == 0 {
		return out, nil
	}
	args := make([]any, 0, 2+len(urls))
	args = append(args, envID, minuteMS(since))
	for _, u := range urls {
		args = append(args, u)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT url, sum(attempts), sum(successes), sum(`+strings.Join(histCols, "), sum(")+`)
		FROM endpoint_minutes WHERE environment_id = ? AND minute >= ? AND url IN (`+placeholders(len(urls), "?")+`)
		GROUP BY url`, args...)
	if err != nil {
		return nil, fmt.Errorf("endpoint stats: %w", unavailable(err))
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
			return nil, fmt.Errorf("endpoint stats: %w", unavailable(err))
		}
		out[url] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("endpoint stats: %w", unavailable(err))
	}
	return out, nil
}
