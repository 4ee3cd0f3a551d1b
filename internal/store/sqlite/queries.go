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
