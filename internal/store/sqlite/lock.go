package sqlite

import (
	"errors"
	"fmt"
	"os"
)

// ErrLocked: another process (or another Store in this one) has the
// database file open.
var ErrLocked = errors.New("sqlite: the database is in use by another herald process")

// lockFile takes an exclusive, non-blocking lock on path+".lock", held for
// as long as the returned file stays open (tryLock: flock on Unix,
// LockFileEx on Windows). That lock is separate from the locks SQLite
// takes on the database itself, so the two never interfere; the system
// drops it when the process dies, so a crash leaves nothing to clean up.
func lockFile(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock file: %w", err)
	}
	if locked, err := tryLock(f); err != nil || !locked {
		f.Close()
		if err == nil {
			return nil, fmt.Errorf("%w: %s is locked (one process per SQLite file; use PostgreSQL to run several)", ErrLocked, name)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", name, err)
	}
	return f, nil
}
