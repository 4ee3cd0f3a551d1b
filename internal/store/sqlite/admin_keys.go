package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// AddAdminKeyHash stores the hash of an admin key created by herald.
func (s *Store) AddAdminKeyHash(ctx context.Context, hash []byte) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO admin_keys (key_hash, created_at) VALUES (?, ?)`, hash, time.Now().UnixMilli())
		return err
	})
}

// AdminKeyHashes lists the stored admin key hashes.
func (s *Store) AdminKeyHashes(ctx context.Context) ([][]byte, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key_hash FROM admin_keys`)
	if err != nil {
		return nil, fmt.Errorf("admin keys: %w", unavailable(err))
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
