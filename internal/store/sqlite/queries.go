package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	herald "github.com/heraldhq/herald"
)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func isForeignKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

type scanner interface{ Scan(dest ...any) error }

var _ herald.Store = (*Store)(nil)

// unavailable marks the error of a read on a closed store as
// herald.ErrUnavailable (503, retry), as PostgreSQL's store does; other
// errors are returned as they are.
func unavailable(err error) error {
	if errors.Is(err, sql.ErrConnDone) || (err != nil && strings.Contains(err.Error(), "sql: database is closed")) {
		return fmt.Errorf("%w: %w", herald.ErrUnavailable, err)
	}
	return err
}

// nonNil stores an absent hash as an empty blob, as the column's default.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// freshGen is the lease generation a delivery is stored with: the first
// when the ingesting process stores it already claimed, none otherwise.
func freshGen(status string) int64 {
	if status == herald.StatusSending {
		return herald.FreshLeaseGen
	}
	return 0
}

// nullBytes stores nil as NULL (and anything else, even empty, as a blob).
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// unique drops repeated elements, keeping the first of each.
func unique[T comparable](in []T) []T {
	seen := make(map[T]bool, len(in))
	out := make([]T, 0, len(in))
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
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
