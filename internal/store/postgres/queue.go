package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// ClaimDue takes back expired leases, then claims up to req.Limit due
// deliveries that no other process holds, oldest due first, with their
// bodies (their own, or their event's) and their event's headers, in the
// same statement.
func (s *Store) ClaimDue(ctx context.Context, req herald.ClaimRequest) ([]herald.Job, error) {
	exclude := req.ExcludeURLs
	if exclude == nil {
		exclude = []string{}
	}
	b := &pgx.Batch{}
	// Expired leases are taken back in id order, skipping rows another
	// process is writing right now (it will be their turn next time).
	b.Queue(`WITH expired AS (
			SELECT id FROM deliveries WHERE status = 'sending' AND lease_until < $1
			ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)
		UPDATE deliveries d SET status = 'pending', lease_until = NULL, next_attempt_at = coalesce(d.next_attempt_at, $1)
		FROM expired WHERE d.id = expired.id`, req.Now)
	b.Queue(`WITH due AS (
			SELECT id FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= $1 AND NOT (url = ANY($4))
			ORDER BY next_attempt_at LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE deliveries d SET status = 'sending', lease_until = $2, updated_at = $1, lease_gen = d.lease_gen + 1
		FROM due, events e WHERE d.id = due.id AND e.id = d.event_id
		RETURNING d.id, d.event_id, d.environment_id, d.url, d.attempts, coalesce(d.body, e.body), e.headers, d.lease_gen,
			d.round_start, coalesce(e.trace_parent, ''), d.type, d.connection_id`,
		req.Now, req.LeaseUntil, req.Limit, exclude)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("claim: reclaim expired leases: %w", wrap(err))
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("claim: %w", wrap(err))
	}
	jobs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (herald.Job, error) {
		var j herald.Job
		err := row.Scan(&j.DeliveryID, &j.EventID, &j.EnvironmentID, &j.URL, &j.Attempts, &j.Body, &j.Headers, &j.LeaseGen,
			&j.RoundStart, &j.TraceParent, &j.EventType, &j.ConnectionID)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", wrap(err))
	}
	return jobs, nil
}

// NextDue returns the earliest next_attempt_at among pending deliveries.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", wrap(err))
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return next.UTC(), true, nil
}

// RecordAttempts writes attempt rows, the deliveries' new states and
// their endpoints' figures in one statement (one round trip). Outcomes
// for deliveries deleted meanwhile are dropped.
func (s *Store) RecordAttempts(ctx context.Context, results []herald.AttemptResult) error {
	n := len(results)
	ids, statuses, gens := make([]string, n), make([]string, n), make([]int64, n)
	numbers, codes := make([]int32, n), make([]*int32, n)
	started, updated := make([]time.Time, n), make([]time.Time, n)
	durations := make([]int64, n)
	errs, bodies := make([]*string, n), make([]*string, n)
	next := make([]*time.Time, n)
	// What each result says of its endpoint: envs, urls and minutes
	// locate it, ok is true for a success, false for a failure and NULL
	// for a result that does not count (throttled, or no word).
	envs, urls := make([]string, n), make([]string, n)
	ok, buckets, minutes := make([]*bool, n), make([]int32, n), make([]time.Time, n)
	type key struct{ env, url string }
	keys := map[key]struct{}{}
	for i, r := range results {
		a := r.Attempt
		ids[i], statuses[i], numbers[i], gens[i] = r.DeliveryID, r.Status, int32(a.Number), r.LeaseGen
		if a.StatusCode != nil {
			c := int32(*a.StatusCode)
			codes[i] = &c
		}
		started[i], durations[i] = a.StartedAt, a.DurationMS
		updated[i] = a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
		errs[i], bodies[i], next[i] = a.Error, a.ResponseBody, r.NextAttemptAt
		if (r.Health == herald.HealthSuccess || r.Health == herald.HealthFailure) && r.EnvironmentID != "" && r.URL != "" {
			success := r.Health == herald.HealthSuccess
			envs[i], urls[i], ok[i] = r.EnvironmentID, r.URL, &success
			buckets[i], minutes[i] = int32(herald.DurationBucket(a.DurationMS)), a.StartedAt.Truncate(time.Minute)
			keys[key{r.EnvironmentID, r.URL}] = struct{}{}
		}
	}
	args := []any{ids, numbers, started, durations, codes, errs, bodies, gens, statuses, next, updated}
	q := recordAttempts
	if len(keys) > 0 {
		// An id for each endpoint that may have to be made.
		keyIDs, err := newIDs(len(keys))
		if err != nil {
			return err
		}
		keyEnvs, keyURLs := make([]string, 0, len(keys)), make([]string, 0, len(keys))
		for k := range keys {
			keyEnvs, keyURLs = append(keyEnvs, k.env), append(keyURLs, k.url)
		}
		// Each result's place in the order the attempts started (the
		// batch's order among those that started together): a success
		// resets the failures of those before it.
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(i, j int) int {
			return results[i].Attempt.StartedAt.Compare(results[j].Attempt.StartedAt)
		})
		seqs := make([]int32, n)
		for place, i := range order {
			seqs[i] = int32(place)
		}
		args = append(args, envs, urls, ok, buckets, minutes, seqs, keyEnvs, keyURLs, keyIDs)
		q = recordAttemptsCounted
	}
	if _, err := s.pool.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("record attempts: %w", wrap(err))
	}
	return nil
}

// recordAttempts is one statement: lock the deliveries still held under
// the results' lease generations, in id order (so that processes never
// deadlock), then write the attempts and the new states of those alone. A
// result whose lease was taken over by another claim, or whose delivery
// was deleted, writes nothing. recordAttemptsCounted puts more in the same
// WITH.
const recordAttempts = `WITH u AS (
		SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::int[], $6::text[], $7::text[],
			$8::bigint[], $9::text[], $10::timestamptz[], $11::timestamptz[])
			AS u(id, number, started_at, duration_ms, code, error, response_body, gen, status, next, updated)),` +
	recordHeld + recordUpdate

const recordHeld = `
	held AS (
		SELECT d.id, d.lease_gen AS gen FROM deliveries d JOIN u ON d.id = u.id AND d.lease_gen = u.gen
		ORDER BY d.id FOR NO KEY UPDATE OF d),
	ins AS (
		INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_body)
		SELECT u.id, u.number, u.started_at, u.duration_ms, u.code, u.error, u.response_body FROM u JOIN held USING (id, gen)
		ON CONFLICT (delivery_id, number) DO UPDATE SET started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
			status_code = EXCLUDED.status_code, error = EXCLUDED.error, response_body = EXCLUDED.response_body)`

const recordUpdate = `
	UPDATE deliveries d SET status = u.status, attempts = u.number, next_attempt_at = u.next, lease_until = NULL,
		last_status_code = u.code, last_error = u.error, updated_at = u.updated
	FROM u JOIN held USING (id, gen) WHERE d.id = u.id`

// recordAttemptsCounted is recordAttempts that also adds the counted
// results (ok not NULL) to their endpoints' figures, in the same
// statement. Only the results joined with held count: those the statement
// writes, so a stale one (dropped) counts nowhere, with no extra query to
// find out which. Per (environment, URL, minute) the attempts, successes
// and duration buckets are added to endpoint_minutes; per (environment,
// URL) the endpoint is made (at its last attempt's end) or updated: a
// batch with a success for it leaves the failures after its last success
// (in the order the attempts started, seq), one without adds its failures
// to the endpoint's and keeps its failing_since if it had one. The reset
// flag is read back from streaks in the SET, as EXCLUDED holds table
// columns only; a healthy endpoint that stays healthy is locked but not
// written (the WHERE), and updated_at, the time of the last change of
// settings or state by hand, is left alone. Both upserts take their rows
// in key order, and run after the main UPDATE has locked every delivery
// (data-modifying CTEs that it does not read run once it is done), so
// concurrent batches lock in the same order. $18–$20 are an id for each
// endpoint the batch may have to make (keys): one of an environment that
// is gone counts nowhere, instead of failing the batch on the foreign key.
var recordAttemptsCounted = `WITH u AS (
		SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::int[], $6::text[], $7::text[],
			$8::bigint[], $9::text[], $10::timestamptz[], $11::timestamptz[],
			$12::text[], $13::text[], $14::boolean[], $15::int[], $16::timestamptz[], $17::int[])
			AS u(id, number, started_at, duration_ms, code, error, response_body, gen, status, next, updated,
				env, url, ok, bucket, minute, seq)),` + recordHeld + `,
	keys AS (
		SELECT k.env, k.url, k.id FROM unnest($18::text[], $19::text[], $20::text[]) AS k(env, url, id)
		WHERE EXISTS (SELECT 1 FROM environments WHERE id = k.env)),
	counted AS (
		SELECT u.env, u.url, u.ok, u.bucket, u.minute, u.started_at, u.updated, u.seq
		FROM u JOIN held USING (id, gen) JOIN keys ON keys.env = u.env AND keys.url = u.url
		WHERE u.ok IS NOT NULL),
	minutes AS (
		INSERT INTO endpoint_minutes AS m (environment_id, url, minute, attempts, successes, ` + strings.Join(durationCols, ", ") + `)
		SELECT env, url, minute, count(*), count(*) FILTER (WHERE ok), ` + countBuckets + `
		FROM counted GROUP BY env, url, minute ORDER BY env, url, minute
		ON CONFLICT (environment_id, url, minute) DO UPDATE SET attempts = m.attempts + EXCLUDED.attempts,
			successes = m.successes + EXCLUDED.successes, ` + addBuckets + `),
	lasts AS (
		SELECT env, url, max(seq) FILTER (WHERE ok) AS last_ok FROM counted GROUP BY env, url),
	streaks AS (
		SELECT c.env, c.url, k.id, l.last_ok IS NOT NULL AS reset,
			count(*) FILTER (WHERE NOT c.ok AND c.seq > coalesce(l.last_ok, -1)) AS failures,
			min(c.started_at) FILTER (WHERE NOT c.ok AND c.seq > coalesce(l.last_ok, -1)) AS since,
			max(c.updated) AS last
		FROM counted c JOIN lasts l ON l.env = c.env AND l.url = c.url
			JOIN keys k ON k.env = c.env AND k.url = c.url
		GROUP BY c.env, c.url, k.id, l.last_ok),
	endpoints_counted AS (
		INSERT INTO endpoints AS e (id, environment_id, url, consecutive_failures, failing_since, created_at, updated_at)
		SELECT id, env, url, failures, since, last, last FROM streaks ORDER BY env, url
		ON CONFLICT (environment_id, url) DO UPDATE SET
			consecutive_failures = CASE WHEN (SELECT reset FROM streaks s WHERE s.env = EXCLUDED.environment_id AND s.url = EXCLUDED.url)
				THEN EXCLUDED.consecutive_failures ELSE e.consecutive_failures + EXCLUDED.consecutive_failures END,
			failing_since = CASE WHEN (SELECT reset FROM streaks s WHERE s.env = EXCLUDED.environment_id AND s.url = EXCLUDED.url)
				THEN EXCLUDED.failing_since ELSE coalesce(e.failing_since, EXCLUDED.failing_since) END
		WHERE EXCLUDED.consecutive_failures > 0 OR e.consecutive_failures <> 0 OR e.failing_since IS NOT NULL)` + recordUpdate

// countBuckets counts the counted attempts of each duration bucket;
// addBuckets adds them to a minute's.
var countBuckets, addBuckets = func() (string, string) {
	counts, adds := make([]string, len(durationCols)), make([]string, len(durationCols))
	for i, c := range durationCols {
		counts[i] = fmt.Sprintf("count(*) FILTER (WHERE bucket = %d)", i)
		adds[i] = fmt.Sprintf("%s = m.%s + EXCLUDED.%s", c, c, c)
	}
	return strings.Join(counts, ", "), strings.Join(adds, ", ")
}()

// RenewLeases extends the leases of deliveries this process still holds.
func (s *Store) RenewLeases(ctx context.Context, leases []herald.Lease, until time.Time) error {
	ids, gens := leaseArrays(leases)
	_, err := s.pool.Exec(ctx, `WITH held AS (
			SELECT d.id FROM deliveries d JOIN unnest($2::text[], $3::bigint[]) AS u(id, gen) ON d.id = u.id AND d.lease_gen = u.gen
			WHERE d.status = 'sending' ORDER BY d.id FOR NO KEY UPDATE OF d)
		UPDATE deliveries d SET lease_until = $1 FROM held WHERE d.id = held.id`, until, ids, gens)
	if err != nil {
		return fmt.Errorf("renew leases: %w", wrap(err))
	}
	return nil
}

// Release puts claimed deliveries back to pending, due at now, and wakes
// the other processes.
func (s *Store) Release(ctx context.Context, leases []herald.Lease, now time.Time) error {
	ids, gens := leaseArrays(leases)
	b := &pgx.Batch{}
	b.Queue(`WITH held AS (
			SELECT d.id FROM deliveries d JOIN unnest($2::text[], $3::bigint[]) AS u(id, gen) ON d.id = u.id AND d.lease_gen = u.gen
			WHERE d.status = 'sending' ORDER BY d.id FOR NO KEY UPDATE OF d)
		UPDATE deliveries d SET status = 'pending', lease_until = NULL, next_attempt_at = $1, updated_at = $1
		FROM held WHERE d.id = held.id`, now, ids, gens)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("release: %w", wrap(err))
	}
	return nil
}
