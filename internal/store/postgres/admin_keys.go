package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// AddAdminKeyHash stores the hash of an admin key created by herald.
func (s *Store) AddAdminKeyHash(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO admin_keys (key_hash, created_at) VALUES ($1, now()) ON CONFLICT DO NOTHING`, hash)
	return wrap(err)
}

// AdminKeyHashes lists the stored admin key hashes.
func (s *Store) AdminKeyHashes(ctx context.Context) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT key_hash FROM admin_keys`)
	if err != nil {
		return nil, fmt.Errorf("admin keys: %w", wrap(err))
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	return hashes, wrap(err)
}
