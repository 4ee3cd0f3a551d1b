package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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
