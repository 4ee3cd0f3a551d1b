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

// Ingest stores a producer request in one transaction (group-committed
// with other requests), or returns the stored answer for a repeated
// Idempotency-Key. Requests without a key are handed to the writer as
// they are, and the writer stores those of a group commit together
// (insertIngests); one with a key looks its key up first.
func (s *Store) Ingest(ctx context.Context, req herald.IngestRequest) ([]byte, error) {
	if req.IdempotencyKey == "" {
		return nil, s.enqueue(ctx, op{ingest: &req, done: make(chan error, 1)})
	}
	var replay []byte
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := ms(req.Now)
		var hash []byte
		err := tx.StmtContext(ctx, s.stmts.getIdem).QueryRowContext(ctx, req.EnvironmentID, req.IdempotencyKey,
			now-herald.IdempotencyWindow.Milliseconds()).Scan(&replay, &hash)
		if err == nil {
			if !herald.SameRequest(hash, req.RequestHash) {
				replay = nil
				return herald.ErrIdempotencyKeyReused
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("ingest: idempotency lookup: %w", unavailable(err))
		}
		if err := s.insertIngests(ctx, tx, []*herald.IngestRequest{&req}); err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, s.stmts.putIdem).ExecContext(ctx, req.EnvironmentID, req.IdempotencyKey, req.Response,
			nonNil(req.RequestHash), now); err != nil {
			return fmt.Errorf("ingest: store idempotency key: %w", unavailable(err))
		}
		return nil
	})
	return replay, err
}

// insertIngests stores the events and deliveries of requests, in
// statements of many rows each (rowStatements): one statement per row
// cost about as much again as the row itself (the statement's start,
// its cursors on the table and each index, its bindings cleared).
func (s *Store) insertIngests(ctx context.Context, tx *sql.Tx, reqs []*herald.IngestRequest) error {
	ev, dl := s.rows.events[:0], s.rows.deliveries[:0]
	defer func() {
		// Keep the buffers, not what they point to.
		clear(ev)
		clear(dl)
		s.rows.events, s.rows.deliveries = ev, dl
	}()
	for _, req := range reqs {
		for _, ne := range req.Events {
			e := &ne.Event
			ev = append(ev, e.ID, e.EnvironmentID, e.Type, e.ConnectionID, e.ProviderConfigKey, e.Body, e.Skipped,
				herald.EncodeFieldList(e.UnknownFields), nullBytes(e.Headers), nullBytes(e.Inbound), ms(e.CreatedAt), e.TraceParent)
			for i := range ne.Deliveries {
				dl = appendDelivery(dl, &ne.Deliveries[i])
			}
		}
	}
	if err := s.stmts.events.exec(ctx, tx, ev); err != nil {
		if isForeignKey(err) {
			return herald.ErrEnvironmentDeleted
		}
		return fmt.Errorf("ingest: insert event: %w", unavailable(err))
	}
	if err := s.stmts.deliveries.exec(ctx, tx, dl); err != nil {
		return fmt.Errorf("ingest: insert delivery: %w", unavailable(err))
	}
	return nil
}

// appendDelivery appends the values of d's row, in the order of
// deliveryInsert's columns, with the Status given (pending when empty);
// one with Status sending is stored already claimed, under its first
// lease.
func appendDelivery(args []any, d *herald.Delivery) []any {
	status := d.Status
	if status == "" {
		status = herald.StatusPending
	}
	return append(args, d.ID, d.EventID, d.EnvironmentID, d.Type, d.ConnectionID, d.ProviderConfigKey, d.URL, status,
		nullMS(d.NextAttemptAt), nullMS(d.LeaseUntil), ms(d.CreatedAt), ms(d.CreatedAt), freshGen(status), nullBytes(d.Body),
		d.RoundStart)
}

// eventCols are the columns of an event but its body, which only GetEvent
// reads: lists stay light.
const eventCols = `id, environment_id, type, connection_id, provider_config_key, skipped, unknown_fields, headers, inbound,
	created_at`

// scanEvent reads eventCols, then the extra destinations.
func scanEvent(row scanner, extra ...any) (*herald.Event, error) {
	var e herald.Event
	var created int64
	var unknown string
	dest := append([]any{&e.ID, &e.EnvironmentID, &e.Type, &e.ConnectionID, &e.ProviderConfigKey, &e.Skipped, &unknown,
		&e.Headers, &e.Inbound, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, herald.ErrNotFound
		}
		return nil, fmt.Errorf("scan event: %w", unavailable(err))
	}
	e.CreatedAt = fromMS(created)
	var err error
	if e.UnknownFields, err = herald.DecodeFieldList(unknown); err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return &e, nil
}

// GetEvent returns an event of envID and its deliveries.
func (s *Store) GetEvent(ctx context.Context, envID, id string) (*herald.Event, []herald.Delivery, error) {
	var body []byte
	e, err := scanEvent(s.r.QueryRowContext(ctx, `SELECT `+eventCols+`, body FROM events WHERE id = ? AND environment_id = ?`,
		id, envID), &body)
	if err != nil {
		return nil, nil, err
	}
	e.Body = body
	ds, err := s.queryDeliveries(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE event_id = ? ORDER BY id`, id)
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", unavailable(err))
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
		return nil, fmt.Errorf("list events: %w", unavailable(err))
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
	return `0 = 1`
}

// setFates sets the Status of events from their deliveries' statuses,
// read in one query.
func (s *Store) setFates(ctx context.Context, events []herald.Event) error {
	if len(events) == 0 {
		return nil
	}
	args := make([]any, len(events))
	for i, e := range events {
		args[i] = e.ID
	}
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT event_id, status FROM deliveries
		WHERE event_id IN (`+placeholders(len(args), "?")+`)`, args...)
	if err != nil {
		return fmt.Errorf("event fates: %w", unavailable(err))
	}
	defer rows.Close()
	statuses := make(map[string][]string, len(events))
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return fmt.Errorf("event fates: %w", unavailable(err))
		}
		statuses[id] = append(statuses[id], status)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("event fates: %w", unavailable(err))
	}
	for i := range events {
		events[i].Status = herald.EventFate(statuses[events[i].ID])
	}
	return nil
}
