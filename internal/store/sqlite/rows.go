package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// rowSizes are the row counts of the multi-row inserts, largest first: n
// rows go as the fewest statements of these sizes (one per binary digit
// of n, beyond 64 as many of 64 as fit).
var rowSizes = [...]int{64, 32, 16, 8, 4, 2, 1}

// The inserts of ingest and AddDeliveries: their columns and one row's
// values. A delivery stored by them has made no attempt yet (attempts 0)
// and is last updated when it was created.
const (
	eventInsert = `INSERT INTO events (id, environment_id, type, connection_id, provider_config_key, body, skipped,
		unknown_fields, headers, inbound, created_at, trace_parent) VALUES `
	eventRow       = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, nullif(?, ''))`
	eventParams    = 12
	deliveryInsert = `INSERT INTO deliveries (id, event_id, environment_id, type, connection_id, provider_config_key, url,
		status, attempts, next_attempt_at, lease_until, created_at, updated_at, lease_gen, body, round_start) VALUES `
	deliveryRow    = `(?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`
	deliveryParams = 15
)

// rowStatements is an INSERT of many rows, prepared for each of rowSizes.
type rowStatements struct {
	params int // values per row
	bySize [len(rowSizes)]*sql.Stmt
}

// prepareRows prepares head followed by row once per size of rowSizes.
func prepareRows(ctx context.Context, db *sql.DB, head, row string, params int) (rowStatements, error) {
	r := rowStatements{params: params}
	for i, n := range rowSizes {
		q := head + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			r.close()
			return rowStatements{}, fmt.Errorf("sqlite: prepare a %d-row insert: %w", n, err)
		}
		r.bySize[i] = st
	}
	return r, nil
}

// exec inserts the rows whose values args holds, params values a row, in
// the fewest statements.
func (r *rowStatements) exec(ctx context.Context, tx *sql.Tx, args []any) error {
	n := len(args) / r.params
	for i, size := range rowSizes {
		for n >= size {
			if _, err := tx.StmtContext(ctx, r.bySize[i]).ExecContext(ctx, args[:size*r.params]...); err != nil {
				return err
			}
			args, n = args[size*r.params:], n-size
		}
	}
	return nil
}

func (r *rowStatements) close() {
	for _, st := range r.bySize {
		if st != nil {
			st.Close()
		}
	}
}
