package postgres

import (
	"errors"

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
