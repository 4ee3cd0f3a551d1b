package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked: another process (or another Store in this one) has the
// database file open.
var ErrLocked = errors.New("sqlite: the database is in use by another herald process")

// lockFile takes an exclusive, non-blocking flock on path+".lock", held for
// as long as the returned file stays open. flock locks are separate from
// the POSIX record locks SQLite takes on the database itself, so the two
// never interfere; the kernel drops the lock when the process dies, so a
// crash leaves nothing to clean up.
func lockFile(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked (one process per SQLite file; use PostgreSQL to run several)", ErrLocked, name)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", name, err)
	}
	return f, nil
}
