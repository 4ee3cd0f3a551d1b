package postgres

import (
	"context"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
)

// QueueStats counts pending and sending deliveries and finds when the
// oldest pending one was created, in one statement (one snapshot). The
// counts read the partial indexes deliveries_due and deliveries_leased;
// the oldest creation time also reads the pending rows themselves, as no
// index holds created_at (docs/running.md gives its cost at scale).
func (s *Store) QueueStats(ctx context.Context) (herald.QueueStats, error) {
	var st herald.QueueStats
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT p.n, p.oldest, (SELECT count(*) FROM deliveries WHERE status = 'sending')
		FROM (SELECT count(*) AS n, min(created_at) AS oldest FROM deliveries WHERE status = 'pending') AS p`).
		Scan(&st.Pending, &oldest, &st.Sending)
	if err != nil {
		return herald.QueueStats{}, fmt.Errorf("queue stats: %w", wrap(err))
	}
	if oldest != nil {
		t := oldest.UTC()
		st.OldestPendingAt = &t
	}
	return st, nil
}
