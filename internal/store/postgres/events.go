package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
		trace                                     []*string // nil: NULL
	}
	var dl deliveryRows
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
			var tp *string
			if e.TraceParent != "" {
				tp = &e.TraceParent
			}
			ev.trace = append(ev.trace, tp)
			for i := range ne.Deliveries {
				notify = dl.add(&ne.Deliveries[i]) || notify
			}
		}
	}
	b := &pgx.Batch{}
	idemAt := -1 // position of the idempotency insert in the batch
	if len(ev.id) > 0 {
		// A nil []byte is a NULL element: no headers, no inbound log.
		b.Queue(`INSERT INTO events (id, environment_id, type, connection_id, provider_config_key, body, skipped, unknown_fields,
				created_at, headers, inbound, trace_parent)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[],
				$9::timestamptz[], $10::bytea[], $11::bytea[], $12::text[])`,
			ev.id, ev.env, ev.typ, ev.conn, ev.pck, ev.body, ev.skipped, ev.unknown, ev.created, ev.headers, ev.inbound, ev.trace)
	}
	if len(dl.id) > 0 {
		b.Queue(insertDeliveries, dl.args()...)
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

// deliveryRows are deliveries as the parallel arrays insertDeliveries
// takes.
type deliveryRows struct {
	id, event, env, typ, conn, pck, url, status []string
	next, lease                                 []*time.Time
	created                                     []time.Time
	body                                        [][]byte
	roundStart                                  []int32
}

// add appends d, with the Status given (pending when empty), and reports
// whether it is pending (claimable by any process).
func (r *deliveryRows) add(d *herald.Delivery) bool {
	status := d.Status
	if status == "" {
		status = herald.StatusPending
	}
	r.id, r.event, r.env = append(r.id, d.ID), append(r.event, d.EventID), append(r.env, d.EnvironmentID)
	r.typ, r.conn, r.pck = append(r.typ, d.Type), append(r.conn, d.ConnectionID), append(r.pck, d.ProviderConfigKey)
	r.url, r.status = append(r.url, d.URL), append(r.status, status)
	r.next, r.lease, r.created = append(r.next, d.NextAttemptAt), append(r.lease, d.LeaseUntil), append(r.created, d.CreatedAt)
	r.body, r.roundStart = append(r.body, d.Body), append(r.roundStart, int32(d.RoundStart))
	return status == herald.StatusPending
}

func (r *deliveryRows) args() []any {
	return []any{r.id, r.event, r.env, r.typ, r.conn, r.pck, r.url, r.status, r.next, r.lease, r.created, r.body, r.roundStart}
}

// insertDeliveries stores deliveryRows; those with status sending are
// stored already claimed, under their first lease. A nil body is NULL:
// the event's.
var insertDeliveries = `INSERT INTO deliveries (id, event_id, environment_id, type, connection_id, provider_config_key, url,
		status, next_attempt_at, lease_until, created_at, updated_at, lease_gen, body, round_start)
	SELECT u.id, u.event_id, u.environment_id, u.type, u.connection_id, u.provider_config_key, u.url, u.status,
		u.next, u.lease, u.created, u.created,
		CASE WHEN u.status = 'sending' THEN ` + strconv.Itoa(herald.FreshLeaseGen) + ` ELSE 0 END, u.body, u.round_start
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::bytea[], $13::int[])
		AS u(id, event_id, environment_id, type, connection_id, provider_config_key, url, status, next, lease, created, body,
			round_start)`

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
	if err != nil {
		return nil, nil, err
	}
	statuses := make([]string, len(ds))
	for i, d := range ds {
		statuses[i] = d.Status
	}
	e.Status = herald.EventFate(statuses)
	return e, ds, nil
}

// ListEvents returns envID's events newest first, filtered, with their
// fates and without their bodies.
func (s *Store) ListEvents(ctx context.Context, envID string, f herald.EventFilter) ([]herald.Event, error) {
	where, args := eventWhere(envID, f)
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
	if err := s.setFates(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// eventWhere builds the WHERE clause and arguments of an events listing:
// logWhere's, and the events' fate.
func eventWhere(envID string, f herald.EventFilter) (string, []any) {
	where, args := logWhere(envID, herald.DeliveryFilter{Type: f.Type, ConnectionID: f.ConnectionID,
		ProviderConfigKey: f.ProviderConfigKey, Since: f.Since, Until: f.Until, Cursor: f.Cursor})
	if f.Status != "" {
		where += " AND " + fateWhere(f.Status)
	}
	return where, args
}

// fateWhere is the condition that an event (a row of events) has the
// given fate: herald.EventFate in SQL, on its deliveries' statuses, each
// EXISTS an index lookup by event (deliveries_event). An unknown fate
// matches nothing.
func fateWhere(fate string) string {
	has := func(statuses ...string) string {
		return `EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status IN ('` +
			strings.Join(statuses, `', '`) + `'))`
	}
	waiting := []string{herald.StatusPending, herald.StatusSending, herald.StatusHeld}
	switch fate {
	case herald.FatePending:
		return has(waiting...)
	case herald.FateFailed:
		return `NOT ` + has(waiting...) + ` AND ` + has(herald.StatusFailed)
	case herald.FateSucceeded:
		return `NOT ` + has(append(waiting, herald.StatusFailed)...) + ` AND ` + has(herald.StatusSucceeded)
	case herald.FateSkipped:
		return `NOT ` + has(append(waiting, herald.StatusFailed, herald.StatusSucceeded)...)
	}
	return `false`
}

// setFates sets the Status of events from their deliveries' statuses,
// read in one query.
func (s *Store) setFates(ctx context.Context, events []herald.Event) error {
	if len(events) == 0 {
		return nil
	}
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT event_id, status FROM deliveries WHERE event_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("event fates: %w", wrap(err))
	}
	defer rows.Close()
	statuses := make(map[string][]string, len(events))
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return fmt.Errorf("event fates: %w", wrap(err))
		}
		statuses[id] = append(statuses[id], status)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("event fates: %w", wrap(err))
	}
	for i := range events {
		events[i].Status = herald.EventFate(statuses[events[i].ID])
	}
	return nil
}
