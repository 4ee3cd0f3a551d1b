package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	herald "github.com/heraldhq/herald"
)

type ingestOp struct {
	req  herald.IngestRequest
	done chan ingestResult
}

type ingestResult struct {
	replay []byte
	err    error
}

// Ingest stores a producer request, group-committed with others, or
// returns the stored answer for a repeated Idempotency-Key.
func (s *Store) Ingest(ctx context.Context, req herald.IngestRequest) ([]byte, error) {
	closed := fmt.Errorf("ingest: %w: store closed", herald.ErrUnavailable)
	op := ingestOp{req: req, done: make(chan ingestResult, 1)}
	select {
	case <-s.stop:
		return nil, closed
	default:
	}
	select {
	case s.ingests <- op:
	case <-s.stop:
		return nil, closed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued the request runs to its commit; wait for it so the
	// caller never reports failure for something that was stored. If the
	// writers exited first (Close raced with this call), it never ran.
	select {
	case r := <-op.done:
		return r.replay, r.err
	case <-s.writersDone:
		select {
		case r := <-op.done:
			return r.replay, r.err
		default:
			return nil, closed
		}
	}
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
	reused := make([]bool, len(batch))
	answer := func() {
		for i, op := range batch {
			if reused[i] {
				op.done <- ingestResult{err: herald.ErrIdempotencyKeyReused}
			} else {
				op.done <- ingestResult{replay: replays[i]}
			}
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.ingestTx(ctx, tx, batch, replays, reused) })
	if err == nil {
		answer()
		return
	}
	if len(batch) == 1 {
		if errors.Is(err, errIdempotencyRace) {
			// The other transaction has committed by now: run again, and
			// the key check finds its answer.
			err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.ingestTx(ctx, tx, batch, replays, reused) })
			if err == nil {
				answer()
				return
			}
		}
		if isForeignKey(err) {
			// The environment was deleted (by another process) after the
			// request was authenticated.
			err = herald.ErrEnvironmentDeleted
		}
		batch[0].done <- ingestResult{err: fmt.Errorf("ingest: %w", wrap(err))}
		return
	}
	for _, op := range batch {
		s.commitIngests([]ingestOp{op})
	}
}

func (s *Store) ingestTx(ctx context.Context, tx pgx.Tx, batch []ingestOp, replays [][]byte, reused []bool) error {
	var ev struct {
		id, env, typ, conn, pck, skipped, unknown []string
		body, headers, inbound                    [][]byte
		created                                   []time.Time
	}
	var dl struct {
		id, event, env, typ, conn, pck, url, status []string
		next, lease                                 []*time.Time
		created                                     []time.Time
		body                                        [][]byte
	}
	var idem struct {
		env, key       []string
		response, hash [][]byte
		created        []time.Time
	}
	notify := false
	for i, op := range batch {
		req := op.req
		if req.IdempotencyKey != "" {
			var replay, hash []byte
			err := tx.QueryRow(ctx, `SELECT response, request_hash FROM idempotency_keys
				WHERE environment_id = $1 AND key = $2 AND created_at > $3`,
				req.EnvironmentID, req.IdempotencyKey, req.Now.Add(-herald.IdempotencyWindow)).Scan(&replay, &hash)
			if err == nil {
				if herald.SameRequest(hash, req.RequestHash) {
					replays[i] = replay
				} else {
					reused[i] = true
				}
				continue
			}
			if err != pgx.ErrNoRows {
				return err
			}
			idem.env = append(idem.env, req.EnvironmentID)
			idem.key = append(idem.key, req.IdempotencyKey)
			idem.response = append(idem.response, req.Response)
			idem.hash = append(idem.hash, nonNil(req.RequestHash))
			idem.created = append(idem.created, req.Now)
		}
		for _, ne := range req.Events {
			e := ne.Event
			ev.id, ev.env, ev.typ = append(ev.id, e.ID), append(ev.env, e.EnvironmentID), append(ev.typ, e.Type)
			ev.conn, ev.pck, ev.skipped = append(ev.conn, e.ConnectionID), append(ev.pck, e.ProviderConfigKey), append(ev.skipped, e.Skipped)
			ev.body, ev.created = append(ev.body, e.Body), append(ev.created, e.CreatedAt)
			ev.unknown = append(ev.unknown, herald.EncodeFieldList(e.UnknownFields))
			ev.headers, ev.inbound = append(ev.headers, e.Headers), append(ev.inbound, e.Inbound)
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
				dl.body = append(dl.body, d.Body)
			}
		}
	}
	b := &pgx.Batch{}
	idemAt := -1 // position of the idempotency insert in the batch
	if len(ev.id) > 0 {
		// A nil []byte is a NULL element: no headers, no inbound log.
		b.Queue(`INSERT INTO events (id, environment_id, type, connection_id, provider_config_key, body, skipped, unknown_fields,
				created_at, headers, inbound)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[],
				$9::timestamptz[], $10::bytea[], $11::bytea[])`,
			ev.id, ev.env, ev.typ, ev.conn, ev.pck, ev.body, ev.skipped, ev.unknown, ev.created, ev.headers, ev.inbound)
	}
	if len(dl.id) > 0 {
		b.Queue(`INSERT INTO deliveries (id, event_id, environment_id, type, connection_id, provider_config_key, url, status,
			next_attempt_at, lease_until, created_at, updated_at, lease_gen, body)
			SELECT u.id, u.event_id, u.environment_id, u.type, u.connection_id, u.provider_config_key, u.url, u.status,
				u.next, u.lease, u.created, u.created,
				CASE WHEN u.status = 'sending' THEN `+strconv.Itoa(herald.FreshLeaseGen)+` ELSE 0 END, u.body
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::bytea[])
				AS u(id, event_id, environment_id, type, connection_id, provider_config_key, url, status, next, lease, created, body)`,
			dl.id, dl.event, dl.env, dl.typ, dl.conn, dl.pck, dl.url, dl.status, dl.next, dl.lease, dl.created, dl.body)
	}
	if len(idem.key) > 0 {
		// An expired key is replaced. A live one means another transaction
		// stored the same key after our check: it then touches no row, and
		// the count below fails this transaction, so that the request is
		// run again alone and answers with the stored response.
		b.Queue(`INSERT INTO idempotency_keys (environment_id, key, response, request_hash, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::timestamptz[])
			ON CONFLICT (environment_id, key) DO UPDATE SET response = EXCLUDED.response,
				request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at
			WHERE idempotency_keys.created_at <= EXCLUDED.created_at - interval '24 hours'`,
			idem.env, idem.key, idem.response, idem.hash, idem.created)
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

// eventCols are the columns of an event but its body, which only GetEvent
// reads: lists stay light.
const eventCols = `id, environment_id, type, connection_id, provider_config_key, skipped, unknown_fields, headers, inbound,
	created_at`

// scanEvent reads eventCols, then the extra destinations.
func scanEvent(row pgx.Row, extra ...any) (*herald.Event, error) {
	var e herald.Event
	var unknown string
	dest := append([]any{&e.ID, &e.EnvironmentID, &e.Type, &e.ConnectionID, &e.ProviderConfigKey, &e.Skipped, &unknown,
		&e.Headers, &e.Inbound, &e.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan event: %w", wrap(err))
	}
	e.CreatedAt = e.CreatedAt.UTC()
	var err error
	if e.UnknownFields, err = herald.DecodeFieldList(unknown); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return &e, nil
}

// GetEvent returns an event of envID and its deliveries.
func (s *Store) GetEvent(ctx context.Context, envID, id string) (*herald.Event, []herald.Delivery, error) {
	var body []byte
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventCols+`, body FROM events WHERE id = $1 AND environment_id = $2`,
		id, envID), &body)
	if err != nil {
		return nil, nil, err
	}
	e.Body = body
	ds, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE event_id = $1 ORDER BY id`, id)
	return e, ds, err
}

// ListEvents returns envID's events newest first, filtered, without their
// bodies.
func (s *Store) ListEvents(ctx context.Context, envID string, f herald.EventFilter) ([]herald.Event, error) {
	where, args := logWhere(envID, herald.DeliveryFilter{Type: f.Type, ConnectionID: f.ConnectionID,
		ProviderConfigKey: f.ProviderConfigKey, Since: f.Since, Until: f.Until, Cursor: f.Cursor})
	args = append(args, f.Limit)
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT `+eventCols+` FROM events WHERE %s ORDER BY id DESC LIMIT $%d`,
		where, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", wrap(err))
	}
	defer rows.Close()
	out := []herald.Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", wrap(err))
	}
	return out, nil
}
