package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ClaimDue takes back deliveries whose lease ended before req.Now, then
// marks up to req.Limit due deliveries as sending, oldest due first (ties
// in id order, creation order: a range of deliveries_due, read in its
// order), and returns them with their bodies (their own, or their
// event's) and their event's headers and trace parent.
func (s *Store) ClaimDue(ctx context.Context, req herald.ClaimRequest) ([]herald.Job, error) {
	var jobs []herald.Job
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		jobs = jobs[:0]
		if _, err := tx.StmtContext(ctx, s.stmts.expire).ExecContext(ctx, ms(req.Now), ms(req.Now)); err != nil {
			return fmt.Errorf("claim: reclaim expired leases: %w", unavailable(err))
		}
		args := []any{ms(req.LeaseUntil), ms(req.Now), ms(req.Now)}
		var exclude string
		if len(req.ExcludeURLs) > 0 {
			exclude = " AND url NOT IN (?" + strings.Repeat(",?", len(req.ExcludeURLs)-1) + ")"
			for _, u := range req.ExcludeURLs {
				args = append(args, u)
			}
		}
		args = append(args, req.Limit)
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET status = 'sending', lease_until = ?, updated_at = ?,
				lease_gen = lease_gen + 1
			WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?`+exclude+`
			ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING id, event_id, environment_id, url, attempts, lease_gen, body, round_start, type, connection_id`, args...)
		if err != nil {
			return fmt.Errorf("claim: %w", unavailable(err))
		}
		for rows.Next() {
			var j herald.Job
			if err := rows.Scan(&j.DeliveryID, &j.EventID, &j.EnvironmentID, &j.URL, &j.Attempts, &j.LeaseGen, &j.Body,
				&j.RoundStart, &j.EventType, &j.ConnectionID); err != nil {
				rows.Close()
				return fmt.Errorf("claim: scan: %w", unavailable(err))
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim: %w", unavailable(err))
		}
		// The event's body (unless the delivery has its own) and headers,
		// read once per event. Headers are rare: their map is made for the
		// first event that has some.
		read := tx.StmtContext(ctx, s.stmts.eventBody)
		bodies := make(map[string][]byte, len(jobs))
		var headers map[string][]byte
		var traces map[string]string
		var b, h []byte
		var tp string
		for i := range jobs {
			id := jobs[i].EventID
			var ok bool
			if b, ok = bodies[id]; !ok {
				if err := read.QueryRowContext(ctx, id).Scan(&b, &h, &tp); err != nil {
					return fmt.Errorf("claim: body of event %s: %w", id, err)
				}
				bodies[id] = b
				if h != nil {
					if headers == nil {
						headers = map[string][]byte{}
					}
					headers[id] = h
				}
				if tp != "" {
					if traces == nil {
						traces = map[string]string{}
					}
					traces[id] = tp
				}
			}
			if jobs[i].Body == nil {
				jobs[i].Body = b
			}
			jobs[i].Headers = headers[id]
			jobs[i].TraceParent = traces[id]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// NextDue returns the earliest next_attempt_at among pending deliveries.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", unavailable(err))
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMS(next.Int64), true, nil
}

// RecordAttempts writes the deliveries' new states, each with its latest
// attempt on its row (the attempt it held before moves to attempts), and
// counts the written ones toward their endpoints (recordHealth). A first
// attempt is one row write.
func (s *Store) RecordAttempts(ctx context.Context, results []herald.AttemptResult) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		ins := tx.StmtContext(ctx, s.stmts.insertAttempt)
		upd := tx.StmtContext(ctx, s.stmts.updateDelivery)
		var h *healthTally // made for the first result that counts
		for i, r := range results {
			a := r.Attempt
			end := a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
			// A first attempt has nothing before it to move.
			if a.Number > 1 {
				if _, err := ins.ExecContext(ctx, r.DeliveryID, r.LeaseGen, a.Number); err != nil {
					return fmt.Errorf("record attempt: %w", unavailable(err))
				}
			}
			res, err := upd.ExecContext(ctx, r.Status, a.Number, nullMS(r.NextAttemptAt), a.StatusCode, a.Error,
				ms(a.StartedAt), a.DurationMS, a.Error, a.ResponseBody, ms(end), r.DeliveryID, r.LeaseGen)
			if err != nil {
				return fmt.Errorf("record delivery state: %w", unavailable(err))
			}
			if r.EnvironmentID == "" || r.URL == "" || (r.Health != herald.HealthSuccess && r.Health != herald.HealthFailure) {
				continue
			}
			// A stale lease wrote nothing: its attempt counts nowhere.
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue
			}
			if h == nil {
				h = newHealthTally()
			}
			h.add(results, i)
		}
		if h == nil {
			return nil
		}
		return s.recordHealth(ctx, tx, results, h)
	})
}

// RenewLeases extends the leases of deliveries this process still holds.
func (s *Store) RenewLeases(ctx context.Context, leases []herald.Lease, until time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.stmts.renew)
		for _, l := range leases {
			if _, err := st.ExecContext(ctx, ms(until), l.DeliveryID, l.Gen); err != nil {
				return fmt.Errorf("renew lease: %w", unavailable(err))
			}
		}
		return nil
	})
}

// Release puts claimed deliveries back to pending, due at now.
func (s *Store) Release(ctx context.Context, leases []herald.Lease, now time.Time) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st := tx.StmtContext(ctx, s.stmts.release)
		for _, l := range leases {
			if _, err := st.ExecContext(ctx, ms(now), ms(now), l.DeliveryID, l.Gen); err != nil {
				return fmt.Errorf("release: %w", unavailable(err))
			}
		}
		return nil
	})
}
