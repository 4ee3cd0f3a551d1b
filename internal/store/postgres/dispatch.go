package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

// Ingest stores a producer request, group-committed with others, or
// returns the stored answer for a repeated Idempotency-Key.
func (s *Store) Ingest(ctx context.Context, req herald.IngestRequest) ([]byte, error) {
	op := ingestOp{req: req, done: make(chan ingestResult, 1)}
	select {
	case s.ingests <- op:
	case <-s.stop:
		return nil, fmt.Errorf("ingest: %w: store closed", herald.ErrUnavailable)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued the request runs to its commit; wait for it so the
	// caller never reports failure for something that was stored.
	r := <-op.done
	return r.replay, r.err
}

// writer group-commits waiting ingests until the store closes.
func (s *Store) writer() {
	defer s.wg.Done()
	batch := make([]ingestOp, 0, maxIngestOps)
	for {
		select {
		case op := <-s.ingests:
			batch = append(batch[:0], op)
		case <-s.stop:
			for {
				select {
				case op := <-s.ingests:
					s.commitIngests([]ingestOp{op})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxIngestOps {
			select {
			case op := <-s.ingests:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		s.commitIngests(batch)
	}
}

// commitIngests stores a batch in one transaction. If the transaction
// fails (one bad request, an idempotency race with another process) each
// request is retried alone, so one failure never fails the others.
func (s *Store) commitIngests(batch []ingestOp) {
	ctx := context.Background()
	replays := make([][]byte, len(batch))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.ingestTx(ctx, tx, batch, replays) })
	if err == nil {
		for i, op := range batch {
			op.done <- ingestResult{replay: replays[i]}
		}
		return
	}
	if len(batch) == 1 {
		if errors.Is(err, errIdempotencyRace) {
			// The other transaction has committed by now: run again, and
			// the key check finds its answer.
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.ingestTx(ctx, tx, batch, replays) })
			if err == nil {
				batch[0].done <- ingestResult{replay: replays[0]}
				return
			}
		}
		batch[0].done <- ingestResult{err: fmt.Errorf("ingest: %w", wrap(err))}
		return
	}
	for _, op := range batch {
		s.commitIngests([]ingestOp{op})
	}
}

func (s *Store) ingestTx(ctx context.Context, tx pgx.Tx, batch []ingestOp, replays [][]byte) error {
	var ev struct {
		id, env, typ, conn, pck, skipped, unknown []string
		body                                      [][]byte
		created                                   []time.Time
	}
	var dl struct {
		id, event, env, typ, conn, pck, url, status []string
		next, lease                                 []*time.Time
		created                                     []time.Time
	}
	var idem struct {
		env, key []string
		response [][]byte
		created  []time.Time
	}
	notify := false
	for i, op := range batch {
		req := op.req
		if req.IdempotencyKey != "" {
			var replay []byte
			err := tx.QueryRow(ctx, `SELECT response FROM idempotency_keys WHERE environment_id = $1 AND key = $2 AND created_at > $3`,
				req.EnvironmentID, req.IdempotencyKey, req.Now.Add(-herald.IdempotencyWindow)).Scan(&replay)
			if err == nil {
				replays[i] = replay
				continue
			}
			if err != pgx.ErrNoRows {
				return err
			}
			idem.env = append(idem.env, req.EnvironmentID)
			idem.key = append(idem.key, req.IdempotencyKey)
			idem.response = append(idem.response, req.Response)
			idem.created = append(idem.created, req.Now)
		}
		for _, ne := range req.Events {
			e := ne.Event
			ev.id, ev.env, ev.typ = append(ev.id, e.ID), append(ev.env, e.EnvironmentID), append(ev.typ, e.Type)
			ev.conn, ev.pck, ev.skipped = append(ev.conn, e.ConnectionID), append(ev.pck, e.ProviderConfigKey), append(ev.skipped, e.Skipped)
			ev.body, ev.created = append(ev.body, e.Body), append(ev.created, e.CreatedAt)
			ev.unknown = append(ev.unknown, herald.EncodeFieldList(e.UnknownFields))
			for _, d := range ne.Deliveries {
				status := d.Status
				if status == "" {
					status = herald.StatusPending
				}
				notify = notify || status == herald.StatusPending
				dl.id, dl.event, dl.env = append(dl.id, d.ID), append(dl.event, d.EventID), append(dl.env, d.EnvironmentID)
				dl.typ, dl.conn, dl.pck = append(dl.typ, d.Type), append(dl.conn, d.ConnectionID), append(dl.pck, d.ProviderConfigKey)
				dl.url, dl.status = append(dl.url, d.URL), append(dl.status, status)
				dl.next, dl.lease, dl.created = append(dl.next, d.NextAttemptAt), append(dl.lease, d.LeaseUntil), append(dl.created, d.CreatedAt)
			}
		}
	}
	b := &pgx.Batch{}
	idemAt := -1 // position of the idempotency insert in the batch
	if len(ev.id) > 0 {
		b.Queue(`INSERT INTO events (id, environment_id, type, connection_id, provider_config_key, body, skipped, unknown_fields, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[],
				$9::timestamptz[])`,
			ev.id, ev.env, ev.typ, ev.conn, ev.pck, ev.body, ev.skipped, ev.unknown, ev.created)
	}
	if len(dl.id) > 0 {
		b.Queue(`INSERT INTO deliveries (id, event_id, environment_id, type, connection_id, provider_config_key, url, status,
			next_attempt_at, lease_until, created_at, updated_at)
			SELECT u.*, u.created FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])
				AS u(id, event_id, environment_id, type, connection_id, provider_config_key, url, status, next, lease, created)`,
			dl.id, dl.event, dl.env, dl.typ, dl.conn, dl.pck, dl.url, dl.status, dl.next, dl.lease, dl.created)
	}
	if len(idem.key) > 0 {
		// An expired key is replaced. A live one means another transaction
		// stored the same key after our check: it then touches no row, and
		// the count below fails this transaction, so that the request is
		// run again alone and answers with the stored response.
		b.Queue(`INSERT INTO idempotency_keys (environment_id, key, response, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[])
			ON CONFLICT (environment_id, key) DO UPDATE SET response = EXCLUDED.response, created_at = EXCLUDED.created_at
			WHERE idempotency_keys.created_at <= EXCLUDED.created_at - interval '24 hours'`,
			idem.env, idem.key, idem.response, idem.created)
		idemAt = b.Len() - 1
	}
	if notify {
		b.Queue(`SELECT pg_notify($1, '')`, Channel)
	}
	if b.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if i == idemAt && tag.RowsAffected() != int64(len(idem.key)) {
			return errIdempotencyRace
		}
	}
	return br.Close()
}

// errIdempotencyRace fails a group commit in which another transaction
// stored one of its Idempotency-Keys first.
var errIdempotencyRace = errors.New("idempotency key stored concurrently")

// ClaimDue takes back expired leases, then claims up to req.Limit due
// deliveries that no other process holds, oldest due first.
func (s *Store) ClaimDue(ctx context.Context, req herald.ClaimRequest) ([]herald.Job, error) {
	exclude := req.ExcludeURLs
	if exclude == nil {
		exclude = []string{}
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = coalesce(next_attempt_at, $1)
		WHERE status = 'sending' AND lease_until < $1`, req.Now)
	b.Queue(`WITH due AS (
			SELECT id FROM deliveries
			WHERE status = 'pending' AND next_attempt_at <= $1 AND NOT (url = ANY($4))
			ORDER BY next_attempt_at LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE deliveries d SET status = 'sending', lease_until = $2, updated_at = $1
		FROM due, events e WHERE d.id = due.id AND e.id = d.event_id
		RETURNING d.id, d.event_id, d.environment_id, d.url, d.attempts, e.body`, req.Now, req.LeaseUntil, req.Limit, exclude)
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
		err := row.Scan(&j.DeliveryID, &j.EventID, &j.EnvironmentID, &j.URL, &j.Attempts, &j.Body)
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

// RecordAttempts writes attempt rows and the deliveries' new states in one
// round trip. Outcomes for deliveries deleted meanwhile are dropped.
func (s *Store) RecordAttempts(ctx context.Context, results []herald.AttemptResult) error {
	n := len(results)
	ids, statuses := make([]string, n), make([]string, n)
	numbers, codes := make([]int32, n), make([]*int32, n)
	started, updated := make([]time.Time, n), make([]time.Time, n)
	durations := make([]int64, n)
	errs, bodies := make([]*string, n), make([]*string, n)
	next := make([]*time.Time, n)
	for i, r := range results {
		a := r.Attempt
		ids[i], statuses[i], numbers[i] = r.DeliveryID, r.Status, int32(a.Number)
		if a.StatusCode != nil {
			c := int32(*a.StatusCode)
			codes[i] = &c
		}
		started[i], durations[i] = a.StartedAt, a.DurationMS
		updated[i] = a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
		errs[i], bodies[i], next[i] = a.Error, a.ResponseBody, r.NextAttemptAt
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO attempts (delivery_id, number, started_at, duration_ms, status_code, error, response_body)
			SELECT u.* FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::bigint[], $5::int[], $6::text[], $7::text[])
				AS u(delivery_id, number, started_at, duration_ms, status_code, error, response_body)
			WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = u.delivery_id)
			ON CONFLICT (delivery_id, number) DO UPDATE SET started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms,
				status_code = EXCLUDED.status_code, error = EXCLUDED.error, response_body = EXCLUDED.response_body`,
			ids, numbers, started, durations, codes, errs, bodies)
		b.Queue(`UPDATE deliveries d SET status = u.status, attempts = u.number, next_attempt_at = u.next, lease_until = NULL,
				last_status_code = u.code, last_error = u.error, updated_at = u.updated
			FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::text[], $7::timestamptz[])
				AS u(id, status, number, next, code, error, updated)
			WHERE d.id = u.id`, ids, statuses, numbers, next, codes, errs, updated)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("record attempts: %w", wrap(err))
	}
	return nil
}

// RenewLeases extends the leases of deliveries this process still holds.
func (s *Store) RenewLeases(ctx context.Context, ids []string, until time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET lease_until = $1 WHERE id = ANY($2) AND status = 'sending'`, until, ids)
	if err != nil {
		return fmt.Errorf("renew leases: %w", wrap(err))
	}
	return nil
}

// Release puts claimed deliveries back to pending, due at now, and wakes
// the other processes.
func (s *Store) Release(ctx context.Context, ids []string, now time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = $1, updated_at = $1
		WHERE id = ANY($2) AND status = 'sending'`, now, ids)
	b.Queue(`SELECT pg_notify($1, '')`, Channel)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("release: %w", wrap(err))
	}
	return nil
}
