package herald

import (
	"context"
	"time"
)

// QueueStats describes the delivery queue across every environment, for
// the operator's metrics.
type QueueStats struct {
	// Pending counts deliveries waiting for an attempt (due or not);
	// Sending those claimed by a process.
	Pending, Sending int64
	// OldestPendingAt is when the oldest pending delivery was created;
	// nil when none is pending.
	OldestPendingAt *time.Time
}

// StatsStore reads figures about the stored data.
type StatsStore interface {
	// QueueStats counts the queue. It must stay cheap with millions of
	// deliveries (index-only reads): /metrics calls it on every scrape.
	QueueStats(ctx context.Context) (QueueStats, error)
}
