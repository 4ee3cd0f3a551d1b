package herald

import (
	"context"
	"time"
)

// Retention defaults (docs/running.md, "Retention").
const (
	// DefaultRetention is how long finished deliveries, their attempts and
	// their events are kept.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultBodyRetention is how long the bodies of events whose
	// deliveries are all finished are kept.
	DefaultBodyRetention = 7 * 24 * time.Hour
)

// PrunedBody is what an event's body holds once it was pruned: the JSON
// null, which GET /events/{id} shows as "body": null.
var PrunedBody = []byte("null")

// RetentionStore deletes old rows in bounded batches (internal/retention
// calls it in a loop), so that no statement or transaction holds the
// database for long.
type RetentionStore interface {
	// PruneDeliveries deletes up to limit finished deliveries (succeeded,
	// failed, skipped; never pending or sending) created before before,
	// with their attempts, then up to limit events created before before
	// that are left with no delivery (skipped events age out this way
	// too). It returns the number of deliveries deleted: limit means more
	// may be left. Events whose deliveries are not all deleted stay.
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
	// PruneBodies empties the bodies of up to limit events created before
	// before whose deliveries are all finished: the event's body becomes
	// PrunedBody and its deliveries' own bodies NULL, and the event is
	// marked pruned. A pruned event can no longer be sent again: replay
	// skips it (ReplaySources leaves it out) and retry and recover refuse
	// its deliveries. It returns how many events it pruned.
	PruneBodies(ctx context.Context, before time.Time, limit int) (int, error)
	// PruneIdempotencyKeys deletes up to limit idempotency keys (the
	// producers' and bulk calls' alike) recorded before before, and
	// returns how many.
	PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error)
	// PruneEndpointStats deletes up to limit endpoints' per-minute
	// figures (EndpointStats) of minutes that began before before, and
	// returns how many.
	PruneEndpointStats(ctx context.Context, before time.Time, limit int) (int, error)
}
