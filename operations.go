package herald

import (
	"context"
	"time"
)

// StatusHeld is a delivery whose endpoint is disabled; it is sent when the
// endpoint is enabled again.
const StatusHeld = "held"

// Fates of an event (Event.Status), derived from its deliveries.
const (
	// FateSkipped: nothing was or will be sent (no delivery, or every
	// delivery skipped); Event.Skipped says why.
	FateSkipped = "skipped"
	// FatePending: a delivery is still waiting, sending or held.
	FatePending = "pending"
	// FateFailed: nothing is waiting and a delivery failed.
	FateFailed = "failed"
	// FateSucceeded: every delivery that was not skipped succeeded.
	FateSucceeded = "succeeded"
)

// EventFate derives an event's fate from its deliveries' statuses.
func EventFate(statuses []string) string {
	var failed, succeeded bool
	for _, s := range statuses {
		switch s {
		case StatusPending, StatusSending, StatusHeld:
			return FatePending
		case StatusFailed:
			failed = true
		case StatusSucceeded:
			succeeded = true
		}
	}
	switch {
	case failed:
		return FateFailed
	case succeeded:
		return FateSucceeded
	}
	return FateSkipped
}

// ReplaySource is an event to send again: its body, and what its deliveries
// sent, per connection.
type ReplaySource struct {
	Event Event // with Body and TraceParent
	// Sends are the distinct (connection, body) pairs of the event's
	// deliveries, in connection id order; none when the event has no
	// delivery (it was skipped): it is then sent as the event.
	Sends []ReplaySend
}

// ReplaySend is one connection's share of an event's deliveries.
type ReplaySend struct {
	ConnectionID string
	// Body is what the deliveries to this connection sent when it is not
	// the event's body (Delivery.Body); nil: the event's.
	Body []byte
}

// OperationsStore holds what retry, recover and replay need (SPEC §10).
// Requeued deliveries start a new round of attempts: the retry policy
// counts from Delivery.RoundStart.
type OperationsStore interface {
	// RetryDelivery makes a finished delivery (succeeded, failed or
	// skipped) of envID pending again at now, for a new round of attempts
	// appended to its log. ErrNotFound when there is no such delivery;
	// ErrConflict when it is pending, sending or held already.
	RetryDelivery(ctx context.Context, envID, id string, now time.Time) (*Delivery, error)
	// RecoverDeliveries makes up to limit failed deliveries of envID
	// created in [since, until) pending again, due at at, oldest first, in
	// one transaction, and returns how many. The caller repeats it until
	// it returns fewer than limit.
	RecoverDeliveries(ctx context.Context, envID string, since, until, at time.Time, limit int) (int, error)
	// ReplaySources returns up to limit events of envID selected by f
	// (f.Cursor and f.Limit are ignored), oldest first, with ids after
	// `after` ("" from the start), each with its body and sends.
	ReplaySources(ctx context.Context, envID string, f EventFilter, after string, limit int) ([]ReplaySource, error)
	// CountReplay counts the events ReplaySources would return for f,
	// from the start.
	CountReplay(ctx context.Context, envID string, f EventFilter) (int, error)
	// AddDeliveries stores new deliveries of existing events of envID in
	// one transaction. ErrNotFound when an event is not envID's.
	AddDeliveries(ctx context.Context, envID string, ds []Delivery) error
	// ClaimOnce records key for envID and reports true, unless it was
	// recorded less than window before now (then false, nothing changes):
	// a second identical bulk call inside the window does nothing.
	ClaimOnce(ctx context.Context, envID, key string, window time.Duration, now time.Time) (bool, error)
}
