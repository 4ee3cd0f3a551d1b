package postgres

import (
	"errors"
	"strings"
	"unicode/utf8"

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

// storable reports whether a key or id can be stored as text on either
// store: valid UTF-8 without NUL (PostgreSQL's text refuses the others).
// A connection is never indexed under such a key and no connection has
// such an id, so both stores drop them and they match nothing.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// storableKeys keeps the keys that can be stored.
func storableKeys(keys []herald.ConnectionKey) []herald.ConnectionKey {
	out := make([]herald.ConnectionKey, 0, len(keys))
	for _, k := range keys {
		if storable(k.Field) && storable(k.Name) && storable(k.Value) {
			out = append(out, k)
		}
	}
	return out
}

// storableIDs keeps the ids that can be stored.
func storableIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if storable(id) {
			out = append(out, id)
		}
	}
	return out
}

// storableRefs keeps the refs that can be stored.
func storableRefs(refs []herald.ConnectionRef) []herald.ConnectionRef {
	out := make([]herald.ConnectionRef, 0, len(refs))
	for _, r := range refs {
		if storable(r.ProviderConfigKey) && storable(r.ConnectionID) {
			out = append(out, r)
		}
	}
	return out
}
