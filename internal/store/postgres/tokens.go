package postgres

import (
	"context"
	"fmt"
	"math"
	"time"
)

// takeTokens refills endpoint $1's bucket at $2 tokens a second up to $3
// since it was last refilled, by the database's clock, and takes up to $4
// whole tokens, in one statement: ON CONFLICT DO UPDATE reads the row's
// latest version under its lock, so processes taking at once never both
// spend the same tokens. The statement's start is the refill time (a
// statement that waited for the lock refills no less than it may), never
// moving the bucket's time backwards. A new bucket starts full.
const takeTokens = `INSERT INTO endpoint_tokens AS b (endpoint_id, tokens, taken, refilled_at)
	VALUES ($1, $3::float8 - least($4, $3), least($4, $3), statement_timestamp())
	ON CONFLICT (endpoint_id) DO UPDATE SET
		taken = least($4::float8, floor(` + level + `))::integer,
		tokens = ` + level + ` - least($4::float8, floor(` + level + `)),
		refilled_at = greatest(b.refilled_at, statement_timestamp())
	RETURNING taken, tokens`

// level is what the bucket holds now.
const level = `least($3::float8, b.tokens + $2::float8 * greatest(0, extract(epoch FROM statement_timestamp() - b.refilled_at)::float8))`

// TakeTokens takes up to want tokens from endpoint id's bucket, which
// fills at perSecond up to burst and is shared by every process on this
// database. With none to take it returns how long until one is there.
func (s *Store) TakeTokens(ctx context.Context, endpointID string, perSecond, burst, want int) (int, time.Duration, error) {
	if perSecond <= 0 || burst <= 0 || want <= 0 {
		return 0, 0, fmt.Errorf("take tokens: rate %d/s, burst %d, want %d: each must be positive", perSecond, burst, want)
	}
	var taken int
	var left float64
	if err := s.pool.QueryRow(ctx, takeTokens, endpointID, perSecond, burst, want).Scan(&taken, &left); err != nil {
		return 0, 0, fmt.Errorf("take tokens: %w", wrap(err))
	}
	if taken > 0 {
		return taken, 0, nil
	}
	wait := time.Duration(math.Ceil((1 - left) / float64(perSecond) * float64(time.Second)))
	return 0, max(wait, time.Millisecond), nil
}
