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
	br := s.queue.SendBatch(ctx, b)
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
	if err := s.queue.QueryRow(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", wrap(err))
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return next.UTC(), true, nil
}

// RecordAttempts writes the deliveries' new states, each with its latest
// attempt on its row, and their endpoints' figures in one statement (one
// round trip). Outcomes for deliveries deleted meanwhile are dropped.
func (s *Store) RecordAttempts(ctx context.Context, results []herald.AttemptResult) error {
	q, args, err := recordStatement(results, s.shard)
	if err != nil {
		return err
	}
	if _, err := s.queue.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("record attempts: %w", wrap(err))
	}
	return nil
}

// recordStatement is the statement that records results, and its
// arguments: recordAttempts, or recordAttemptsCounted when some results
// count toward their endpoints (in endpoint_minutes' row shard).
func recordStatement(results []herald.AttemptResult, shard int16) (string, []any, error) {
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
			return "", nil, err
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
		args = append(args, envs, urls, ok, buckets, minutes, seqs, keyEnvs, keyURLs, keyIDs, shard)
		q = recordAttemptsCounted
	}
	return q, args, nil
}

// recordAttempts is one statement: lock the deliveries still held under
// the results' lease generations, in id order (so that processes never
// deadlock), then write the new states of those alone, each with its
// attempt as the row's latest (migration 0013); the attempt the row held
// before, if any, moves to attempts. A first attempt is thus one row
// write. A result whose lease was taken over by another claim, or whose
// delivery was deleted, writes nothing. recordAttemptsCounted puts more
// in the same WITH.
const recordAttempts = `WITH u AS (
		SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::int[], $6::text[], $7::text[],
			$8::bigint[], $9::text[], $10::timestamptz[], $11::timestamptz[])
			AS u(id, number, started_at, duration_ms, code, error, response_body, gen, status, next, updated)),` +
	recordHeld + recordUpdate

// recordHeld locks the held deliveries and carries each result's values
// along with what the row holds (prev_*): every other part reads held
// alone. Joining the results to held again, as this statement once did,
// let the planner, which expects a row or two of held, match every result
// with every held row (a batch of 500 spent 90 ms there). The attempt the
// row holds moves to attempts only when it is an earlier one: writing the
// same attempt again (a retried call) replaces it on the row.
const recordHeld = `
	held AS (
		SELECT u.*, d.attempts AS prev_number, d.last_started_at AS prev_started, d.last_duration_ms AS prev_duration,
			d.last_status_code AS prev_code, d.last_attempt_error AS prev_error, d.last_response_body AS prev_body
		FROM u JOIN deliveries d ON d.id = u.id AND d.lease_gen = u.gen
		ORDER BY d.id FOR NO KEY UPDATE OF d),
	moved AS (
		INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_body)
		SELECT id, prev_number, prev_started, prev_duration, prev_code, prev_error, prev_body FROM held
		WHERE prev_started IS NOT NULL AND prev_number < number
		ON CONFLICT (delivery_id, number) DO NOTHING)`

const recordUpdate = `
	UPDATE deliveries d SET status = h.status, attempts = h.number, next_attempt_at = h.next, lease_until = NULL,
		last_status_code = h.code, last_error = h.error, last_started_at = h.started_at, last_duration_ms = h.duration_ms,
		last_attempt_error = h.error, last_response_body = h.response_body, updated_at = h.updated
	FROM held h WHERE d.id = h.id`

// recordAttemptsCounted is recordAttempts that also adds the counted
// results (ok not NULL) to their endpoints' figures, in the same
// statement. Only the results in held count: those the statement
// writes, so a stale one (dropped) counts nowhere, with no extra query to
// find out which. Per (environment, URL, minute) the attempts, successes
// and duration buckets are added to endpoint_minutes, in this process's
// row of the minute ($21, the store's shard: no other process waits on
// it); per (environment, URL) the endpoint is made (at its last attempt's
// end) or updated: a batch with a success for it leaves the failures
// after its last success (in the order the attempts started, seq), one
// without adds its failures to the endpoint's and keeps its failing_since
// if it had one. The reset flag is read back from streaks in the SET, as
// EXCLUDED holds table columns only. A healthy endpoint that stays
// healthy (no failure in the batch, none in the statement's snapshot) is
// left out before the upsert, which would lock it even when its WHERE
// writes nothing: every process delivering to it would queue on that
// lock. A failure another process commits after the snapshot is then not
// reset by this batch's successes, but by the next batch with one; the
// upsert's WHERE still skips a row that turned healthy meanwhile.
// updated_at, the time of the last change of settings or state by hand,
// is left alone. Both upserts take their rows in key order, and run after
// the main UPDATE has locked every delivery (data-modifying CTEs that it
// does not read run once it is done), so concurrent batches lock in the
// same order. $18–$20 are an id for each endpoint the batch may have to
// make (keys): one of an environment that is gone counts nowhere, instead
// of failing the batch on the foreign key.
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
		SELECT h.env, h.url, h.ok, h.bucket, h.minute, h.started_at, h.updated, h.seq
		FROM held h JOIN keys ON keys.env = h.env AND keys.url = h.url
		WHERE h.ok IS NOT NULL),
	minutes AS (
		INSERT INTO endpoint_minutes AS m (environment_id, url, minute, shard, attempts, successes, ` + strings.Join(durationCols, ", ") + `)
		SELECT env, url, minute, $21::smallint, count(*), count(*) FILTER (WHERE ok), ` + countBuckets + `
		FROM counted GROUP BY env, url, minute ORDER BY env, url, minute
		ON CONFLICT (environment_id, url, minute, shard) DO UPDATE SET attempts = m.attempts + EXCLUDED.attempts,
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
		SELECT id, env, url, failures, since, last, last FROM streaks s
		WHERE s.failures > 0 OR NOT EXISTS (SELECT 1 FROM endpoints e
			WHERE e.environment_id = s.env AND e.url = s.url AND e.consecutive_failures = 0 AND e.failing_since IS NULL)
		ORDER BY env, url
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
	_, err := s.queue.Exec(ctx, `WITH held AS (
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
	if err := s.queue.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("release: %w", wrap(err))
	}
	return nil
}
