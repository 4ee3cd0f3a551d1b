package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	herald "github.com/heraldhq/herald"
)

func isForeignKey(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// execOne runs one statement and reports herald.ErrNotFound when it touched no row.
func (s *Store) execOne(ctx context.Context, what, q string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, wrap(err))
	}
	if tag.RowsAffected() == 0 {
		return herald.ErrNotFound
	}
	return nil
}

// nonNil stores an absent hash as an empty bytea, as the column's default.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// leaseArrays splits leases into the parallel arrays unnest takes.
func leaseArrays(leases []herald.Lease) ([]string, []int64) {
	ids, gens := make([]string, len(leases)), make([]int64, len(leases))
	for i, l := range leases {
		ids[i], gens[i] = l.DeliveryID, l.Gen
	}
	return ids, gens
}
