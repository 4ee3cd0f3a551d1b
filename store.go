package herald

import (
	"context"
	"time"
)

// IdempotencyWindow is how long an Idempotency-Key is remembered.
const IdempotencyWindow = 24 * time.Hour

// IngestRequest is one producer request: its events, their deliveries, and
// the answer to replay if the same Idempotency-Key comes again.
type IngestRequest struct {
	EnvironmentID  string
	IdempotencyKey string // empty: none
	Response       []byte // the 202 body, stored with the key
	Events         []EventRecord
	Now            time.Time
}

// Store is the persistence the service needs. Implementations must make
// Ingest atomic (all events and deliveries or nothing) and must hand each due
// delivery to exactly one claimer.
type Store interface {
	// Environments.
	CreateEnvironment(ctx context.Context, env *Environment) error
	ListEnvironments(ctx context.Context) ([]Environment, error)
	DeleteEnvironment(ctx context.Context, id string) error
	EnvironmentByID(ctx context.Context, id string) (*Environment, error)
	EnvironmentByKeyHash(ctx context.Context, hash []byte) (*Environment, error)
	UpdateSettings(ctx context.Context, id string, s Settings) error
	RotateSigningKey(ctx context.Context, id, newKey string, previousExpires time.Time) error

	// Ingest stores the request atomically. When IdempotencyKey was seen in
	// the last 24 h it stores nothing and returns the first answer.
	// Deliveries are stored with the Status given (pending when empty);
	// those with Status sending are stored already claimed, until LeaseUntil.
	Ingest(ctx context.Context, req IngestRequest) (replay []byte, err error)

	// Logs.
	GetEvent(ctx context.Context, envID, id string) (*Event, []Delivery, error)
	ListDeliveries(ctx context.Context, envID string, f DeliveryFilter) ([]Delivery, error)
	GetDelivery(ctx context.Context, envID, id string) (*Delivery, []byte, []Attempt, error)

	// Dispatch. ClaimDue first makes deliveries whose lease ended before
	// req.Now pending again (their holder died), then claims due ones.
	ClaimDue(ctx context.Context, req ClaimRequest) ([]Job, error)
	// NextDue is the earliest next_attempt_at of a pending delivery.
	NextDue(ctx context.Context) (time.Time, bool, error)
	RecordAttempts(ctx context.Context, results []AttemptResult) error
	RenewLeases(ctx context.Context, ids []string, until time.Time) error
	// Release puts claimed but unattempted deliveries back to pending.
	Release(ctx context.Context, ids []string, now time.Time) error
	// Wakeups receives a value whenever another process sharing the
	// database stored work that may be due now, so that an idle claimer
	// need not poll. A store with no other writers (SQLite: one process per
	// file) returns nil, which never receives; work stored through this
	// process is announced by the process itself.
	Wakeups() <-chan struct{}

	AdminKeyStore
	Ping(ctx context.Context) error
	Close() error
}

// AdminKeyStore keeps admin keys created by herald itself (serve --dev),
// as SHA-256 hashes.
type AdminKeyStore interface {
	AddAdminKeyHash(ctx context.Context, hash []byte) error
	AdminKeyHashes(ctx context.Context) ([][]byte, error)
}
