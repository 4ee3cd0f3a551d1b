package sqlite

import (
	"errors"
	"fmt"

	herald "github.com/heraldhq/herald"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// storage classifies a write's error. Failures of the storage itself — the
// disk or the database is full, the file became read-only or cannot be
// opened, an I/O error — are herald.ErrUnavailable (503 with Retry-After:
// nothing was stored, retrying later is right), and mark writes as failing
// until a commit works again. Other errors are returned as they are.
func (s *Store) storage(err error) error {
	if err == nil {
		s.writesFailing.Store(false)
		return nil
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
		s.writesFailing.Store(true)
		return fmt.Errorf("%w: storage: %w", herald.ErrUnavailable, err)
	}
	return err
}
