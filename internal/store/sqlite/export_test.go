package sqlite

import (
	"context"
	"database/sql"
)

// LimitPages caps the database at its current size plus extra pages
// (SQLite's max_page_count on the writer's connection): past it every write
// fails with SQLITE_FULL, as on a full disk. A large extra lifts the cap.
func (s *Store) LimitPages(ctx context.Context, extra int) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `PRAGMA max_page_count = `+itoa(n+extra))
		return err
	})
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// HoldWriter runs an operation that holds the writer until release is
// called, and returns once it runs: what is stored meanwhile queues up
// and goes in the next group commit, in the order it queued.
func (s *Store) HoldWriter(ctx context.Context) (release func()) {
	running, held := make(chan struct{}), make(chan struct{})
	go s.write(ctx, func(context.Context, *sql.Tx) error {
		close(running)
		<-held
		return nil
	})
	<-running
	return func() { close(held) }
}

// Queued is how many operations wait for the writer.
func (s *Store) Queued() int { return len(s.ops) }

// WriteTx runs fn in the writer's transaction, as an operation of its own.
func (s *Store) WriteTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.write(ctx, fn)
}
