package herald

import (
	"bytes"
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
	// RequestHash identifies the request the key is used with (a SHA-256
	// over what was sent). A repeat of the key with another hash is
	// refused with ErrIdempotencyKeyReused.
	RequestHash []byte
	Response    []byte // the 202 body, stored with the key
	Events      []EventRecord
	Now         time.Time
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
	// the last 24 h it stores nothing and returns the first answer, or
	// ErrIdempotencyKeyReused when the key came with another RequestHash.
	// Deliveries are stored with the Status given (pending when empty);
	// those with Status sending are stored already claimed, until LeaseUntil.
	Ingest(ctx context.Context, req IngestRequest) (replay []byte, err error)

	// Logs.
	GetEvent(ctx context.Context, envID, id string) (*Event, []Delivery, error)
	// ListEvents lists an environment's events, newest first.
	ListEvents(ctx context.Context, envID string, f EventFilter) ([]Event, error)
	ListDeliveries(ctx context.Context, envID string, f DeliveryFilter) ([]Delivery, error)
	GetDelivery(ctx context.Context, envID, id string) (*Delivery, []byte, []Attempt, error)

	// Dispatch. ClaimDue first makes deliveries whose lease ended before
	// req.Now pending again (their holder died), then claims due ones,
	// each under a new lease generation (Job.LeaseGen).
	ClaimDue(ctx context.Context, req ClaimRequest) ([]Job, error)
	// NextDue is the earliest next_attempt_at of a pending delivery.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// RecordAttempts writes outcomes. A result whose LeaseGen is no longer
	// the delivery's (another process claimed it since) is dropped: it
	// writes neither an attempt nor a state.
	RecordAttempts(ctx context.Context, results []AttemptResult) error
	// RenewLeases extends the leases still held under the given
	// generations; others are left alone.
	RenewLeases(ctx context.Context, leases []Lease, until time.Time) error
	// Release puts claimed but unattempted deliveries back to pending,
	// those still held under the given generations.
	Release(ctx context.Context, leases []Lease, now time.Time) error
	// Wakeups receives a value whenever another process sharing the
	// database stored work that may be due now, so that an idle claimer
	// need not poll. A store with no other writers (SQLite: one process per
	// file) returns nil, which never receives; work stored through this
	// process is announced by the process itself.
	Wakeups() <-chan struct{}
	// EnvironmentChanges receives the id of every environment changed or
	// deleted through any process sharing the database, and "" when some
	// changes may have been missed, so that a cache drops stale entries at
	// once instead of at the end of its TTL. It is closed by Close. A store
	// with no other writers returns nil: a cache in front of it sees every
	// write itself.
	EnvironmentChanges() <-chan string

	RegistryStore
	OperationsStore
	StatsStore
	RetentionStore
	AdminKeyStore
	OTLPStore
	EndpointStore
	Ping(ctx context.Context) error
	Close() error
}

// AdminKeyStore keeps admin keys created by herald itself (serve --dev),
// as SHA-256 hashes.
type AdminKeyStore interface {
	AddAdminKeyHash(ctx context.Context, hash []byte) error
	AdminKeyHashes(ctx context.Context) ([][]byte, error)
}

// SameRequest reports whether a stored request hash matches a new one. A key
// stored before hashes were kept (empty) matches any request.
func SameRequest(stored, hash []byte) bool {
	return len(stored) == 0 || bytes.Equal(stored, hash)
}
