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
