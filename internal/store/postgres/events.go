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

// writer group-commits waiting ingests until the store closes. Commits
// take turns (the slot): while one runs, the requests that arrive queue
// up and go together in the next, so that commits grow with the load
// instead of multiplying. Each commit costs the database a fixed share
// of CPU (statements started, a WAL flush), and on a machine whose CPUs
// it shares with herald a second commit at once costs more than the wait
// it saves: four writers each committing what it found made commits of
// ~4 requests (1.6 with three processes) and twice the database CPU per
// event of one or two taking turns. Another writer commits without its
// turn only once its batch holds eagerEvents events, when the load is
// more than one commit at a time carries.
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
		turn := s.gather(&batch)
		s.commitIngests(batch)
		s.committed.Store(time.Now().UnixNano())
		if turn {
			<-s.slot
		}
	}
}

// gather adds the requests that arrive to batch until it may commit: once
// it takes the turn (reported, to be given back after the commit), or
// once it is full or holds eagerEvents events.
func (s *Store) gather(batch *[]ingestOp) (turn bool) {
	events := 0
	for _, op := range *batch {
		events += weight(op)
	}
	for {
	drain:
		for len(*batch) < maxIngestOps {
			select {
			case op := <-s.ingests:
				*batch = append(*batch, op)
				events += weight(op)
			default:
				break drain
			}
		}
		if len(*batch) >= maxIngestOps || events >= eagerEvents {
			return false
		}
		select {
		case s.slot <- struct{}{}:
			s.linger(batch, events)
			return true
		case op := <-s.ingests:
			*batch = append(*batch, op)
			events += weight(op)
		case <-s.stop:
			return false
		}
	}
}

// linger lets a batch that has the turn wait up to lingerFor for more
// requests while it holds fewer than lingerEvents events, when the last
// commit ended less than lingerFor ago: requests are arriving steadily,
// and every commit costs the database a round trip of statements and a
// WAL flush whatever its size (with three processes sharing the load,
// commits of ~4.5 events one event per request instead of ~13 with one,
// and twice the database CPU per event). After a quiet spell a request
// commits at once.
func (s *Store) linger(batch *[]ingestOp, events int) {
	if events >= lingerEvents || time.Since(time.Unix(0, s.committed.Load())) > lingerFor {
		return
	}
	t := time.NewTimer(lingerFor)
	defer t.Stop()
	for events < lingerEvents && len(*batch) < maxIngestOps {
		select {
		case op := <-s.ingests:
			*batch = append(*batch, op)
			events += weight(op)
		case <-t.C:
			return
		case <-s.stop:
			return
		}
	}
}

// weight is what a request adds to a commit: its events (one at least).
func weight(op ingestOp) int {
	return max(1, len(op.req.Events))
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
	err := s.ingest(ctx, batch, replays, reused)
	if err == nil {
		answer()
		return
	}
	if len(batch) == 1 {
		if errors.Is(err, errIdempotencyRace) {
			// The other transaction has committed by now (an insert
			// conflicting with an uncommitted key waits for it): run
			// again, and the key check finds its answer.
			err = s.ingest(ctx, batch, replays, reused)
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

// ingest stores a batch in one round trip when no request has an
// Idempotency-Key, two when some have: their keys are looked up first
// (one query for all), and the requests already answered are left out.
// The inserts go as one pipeline, which PostgreSQL runs as one implicit
// transaction (a single Sync): no BEGIN and no COMMIT round trip, and the
// transaction is open only while the server runs it.
func (s *Store) ingest(ctx context.Context, batch []ingestOp, replays [][]byte, reused []bool) error {
	expired, err := s.findKeys(ctx, batch, replays, reused)
	if err != nil {
		return err
	}
	var rows ingestRows
	for i, op := range batch {
		if replays[i] == nil && !reused[i] {
			rows.add(op.req)
		}
	}
	b := rows.queue(expired)
	if b.Len() == 0 {
		return nil
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	for i := range b.Len() {
		if _, err := br.Exec(); err != nil {
			if i == rows.keysAt && isUnique(err) {
				return errIdempotencyRace
			}
			return err
		}
	}
	return br.Close()
}

// expiredKey is an Idempotency-Key found in idempotency_keys but expired
// for the request that comes with it: stored before before.
type expiredKey struct {
	env, key string
	before   time.Time
}

// findKeys looks up the Idempotency-Keys of the batch's requests in one
// query. A request whose key is live gets its stored answer (replays), or
// is refused (reused) when it came with another request hash; the keys
// found expired are returned, to be replaced.
func (s *Store) findKeys(ctx context.Context, batch []ingestOp, replays [][]byte, reused []bool) ([]expiredKey, error) {
	var envs, keys []string
	var at []int32
	for i, op := range batch {
		if op.req.IdempotencyKey != "" {
			envs, keys, at = append(envs, op.req.EnvironmentID), append(keys, op.req.IdempotencyKey), append(at, int32(i))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT u.i, k.response, k.request_hash, k.created_at
		FROM unnest($1::text[], $2::text[], $3::int[]) AS u(env, key, i)
		JOIN idempotency_keys k ON k.environment_id = u.env AND k.key = u.key`, envs, keys, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var expired []expiredKey
	for rows.Next() {
		var i int32
		var replay, hash []byte
		var created time.Time
		if err := rows.Scan(&i, &replay, &hash, &created); err != nil {
			return nil, err
		}
		req := batch[i].req
		before := req.Now.Add(-herald.IdempotencyWindow)
		switch {
		case !created.After(before):
			expired = append(expired, expiredKey{req.EnvironmentID, req.IdempotencyKey, before})
		case herald.SameRequest(hash, req.RequestHash):
			replays[i] = nonNil(replay)
		default:
			reused[i] = true
		}
	}
	return expired, rows.Err()
}

// ingestRows are the rows of the requests of a group commit, as the
// parallel arrays the inserts take.
type ingestRows struct {
	ev struct {
		id, env, typ, conn, pck, skipped, unknown []string
		body, headers, inbound                    [][]byte
		created                                   []time.Time
		trace                                     []*string // nil: NULL
	}
	dl   deliveryRows
	idem struct {
		env, key       []string
		response, hash [][]byte
		created        []time.Time
	}
	// otherEvents are the events of deliveries stored with another event
	// than their own: unusual, and checked (checkEvents).
	otherEvents []string
	// notify is set when a delivery is stored pending, which any process
	// may claim; keysAt is the place of the keys' insert in the pipeline
	// (-1: none).
	notify bool
	keysAt int
}

// add appends a request's events, deliveries and Idempotency-Key.
func (r *ingestRows) add(req herald.IngestRequest) {
	if req.IdempotencyKey != "" {
		r.idem.env, r.idem.key = append(r.idem.env, req.EnvironmentID), append(r.idem.key, req.IdempotencyKey)
		r.idem.response, r.idem.hash = append(r.idem.response, req.Response), append(r.idem.hash, nonNil(req.RequestHash))
		r.idem.created = append(r.idem.created, req.Now)
	}
	ev := &r.ev
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
			d := &ne.Deliveries[i]
			r.notify = r.dl.add(d) || r.notify
			if d.EventID != e.ID {
				r.otherEvents = append(r.otherEvents, d.EventID)
			}
		}
	}
}

// queue makes the pipeline that stores the rows, after deleting the
// expired keys they replace.
func (r *ingestRows) queue(expired []expiredKey) *pgx.Batch {
	b := &pgx.Batch{}
	r.keysAt = -1
	if len(r.ev.id) > 0 {
		ev := &r.ev
		// The events' environments, locked before insertEvents checks
		// that they exist (in a statement of its own: insertEvents' own
		// snapshot would predate the wait for a deletion).
		b.Queue(lockEnvironments, ev.env, environmentLock)
		// A nil []byte is a NULL element: no headers, no inbound log.
		b.Queue(insertEvents, ev.id, ev.env, ev.typ, ev.conn, ev.pck, ev.body, ev.skipped, ev.unknown, ev.created,
			ev.headers, ev.inbound, ev.trace)
	}
	if len(r.otherEvents) > 0 {
		b.Queue(checkEvents, r.otherEvents)
	}
	if len(r.dl.id) > 0 {
		b.Queue(insertDeliveries, r.dl.args()...)
	}
	if len(expired) > 0 {
		envs, keys, before := make([]string, len(expired)), make([]string, len(expired)), make([]time.Time, len(expired))
		for i, k := range expired {
			envs[i], keys[i], before[i] = k.env, k.key, k.before
		}
		// Only while still expired: a key stored meanwhile by another
		// process stays, and the insert below conflicts with it.
		b.Queue(`DELETE FROM idempotency_keys k USING unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(env, key, before)
			WHERE k.environment_id = u.env AND k.key = u.key AND k.created_at <= u.before`, envs, keys, before)
	}
	if len(r.idem.key) > 0 {
		// A plain insert: a live key stored by another transaction since
		// findKeys (or twice in this batch) is a unique violation, which
		// undoes the whole transaction; the request is then run again
		// alone and answers with the stored response.
		b.Queue(`INSERT INTO idempotency_keys (environment_id, key, response, request_hash, created_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::timestamptz[])`,
			r.idem.env, r.idem.key, r.idem.response, r.idem.hash, r.idem.created)
		r.keysAt = b.Len() - 1
	}
	if r.notify {
		b.Queue(`SELECT pg_notify($1, '')`, Channel)
	}
	return b
}

// lockEnvironments takes the advisory locks of the environments of $1
// shared, in order, for the transaction: DeleteEnvironment, which takes
// them exclusively, waits for the ingest, or the ingest for it.
const lockEnvironments = `SELECT pg_advisory_xact_lock_shared($2, hashtext(env))
	FROM (SELECT DISTINCT env FROM unnest($1::text[]) AS u(env) ORDER BY env) AS e`

// checkEvents fails the transaction with a foreign-key violation unless
// every event of $1 exists (this transaction's included: it runs after
// insertEvents), as the deliveries' foreign key did before migration
// 0015, and locks them as it did, until the commit, against a
// PruneDeliveries.
const checkEvents = `SELECT herald_reference_missing('event') FROM unnest($1::text[]) AS u(id)
	WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = u.id FOR KEY SHARE)`

// insertEvents stores events, once it has found each of their
// environments: an environment deleted meanwhile fails the transaction
// with a foreign-key violation (herald_reference_missing, the function of
// migration 0015), as the foreign key did before that migration.
const insertEvents = `WITH missing AS (
		SELECT herald_reference_missing('environment') FROM (SELECT DISTINCT env FROM unnest($2::text[]) AS u(env)) AS u
		WHERE NOT EXISTS (SELECT 1 FROM environments e WHERE e.id = u.env))
	INSERT INTO events (id, environment_id, type, connection_id, provider_config_key, body, skipped, unknown_fields,
		created_at, headers, inbound, trace_parent)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::text[], $8::text[],
		$9::timestamptz[], $10::bytea[], $11::bytea[], $12::text[])
	WHERE NOT EXISTS (SELECT 1 FROM missing)`

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
