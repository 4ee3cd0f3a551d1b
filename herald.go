package herald

import (
	"encoding/json"
	"fmt"
	"time"
)

// Delivery states (docs/retries.md).
const (
	StatusPending   = "pending"
	StatusSending   = "sending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)

// Environment is a tenant. SecretKey is only set on creation (it is stored as
// a hash); SigningKey signs webhooks.
type Environment struct {
	ID            string
	Name          string
	SecretKey     string // plaintext, only when just created
	SecretKeyHash []byte // SHA-256 of the secret key
	SigningKey    string
	// PreviousSigningKey stays valid for Standard Webhooks signatures until
	// PreviousKeyExpiresAt, so receivers can roll keys without a gap.
	PreviousSigningKey   string
	PreviousKeyExpiresAt time.Time
	Settings             Settings
	// HasURLOverrides is set when a connection of the environment has a
	// webhook_url_override (SPEC §5), so that intake looks overrides up
	// only then. Stores derive it on every read.
	HasURLOverrides bool
	CreatedAt       time.Time
}

// SigningKeys returns the keys valid at now: the current key first, then the
// previous one during its grace period.
func (e *Environment) SigningKeys(now time.Time) []string {
	keys := []string{e.SigningKey}
	if e.PreviousSigningKey != "" && now.Before(e.PreviousKeyExpiresAt) {
		keys = append(keys, e.PreviousSigningKey)
	}
	return keys
}

// Event is one webhook body accepted from a producer. Body is the canonical
// JSON that is sent and signed.
type Event struct {
	ID                string
	EnvironmentID     string
	Type              string
	ConnectionID      string
	ProviderConfigKey string
	Body              []byte
	Skipped           string // gate reason when nothing was sent
	// UnknownFields lists the body's fields that Nango's types do not
	// declare (dotted paths); they are kept in Body and delivered.
	UnknownFields []string
	// Headers are the extra request headers of every delivery of the
	// event, a JSON object of lower-case names to values (a forwarded
	// provider's headers, SPEC §9); nil: none.
	Headers []byte
	// Inbound is the log of the provider request a forward event came from
	// (docs/forwarding.md), a JSON object; nil for events posted to /events.
	Inbound []byte
	// TraceParent is the W3C traceparent of the request span that accepted
	// the event (docs/running.md, Traces), so that its attempts, in any
	// process, continue the producer's trace; "": none. Ingest stores it;
	// the log's reads leave it empty.
	TraceParent string
	// Status is the event's fate (EventFate), filled by the log's reads.
	Status    string
	CreatedAt time.Time
}

// Delivery is one event to one URL; it is also the queue entry.
type Delivery struct {
	ID                string
	EventID           string
	EnvironmentID     string
	Type              string
	ConnectionID      string
	ProviderConfigKey string
	URL               string
	Status            string
	Attempts          int
	CreatedAt         time.Time
	UpdatedAt         time.Time
	NextAttemptAt     *time.Time
	LastStatusCode    *int
	LastError         *string
	// LeaseUntil is set on a delivery stored already claimed (status
	// sending) by the process that will attempt it.
	LeaseUntil *time.Time
	// Body is what this delivery sends when it is not the event's body (a
	// forward to one of several matched connections); nil: the event's.
	Body []byte
	// RoundStart counts the attempts made before the current round: a
	// retry or recover starts a new round, and the retry policy counts
	// the round's attempts only.
	RoundStart int
}

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	Number       int
	StartedAt    time.Time
	DurationMS   int64
	StatusCode   *int
	Error        *string
	ResponseBody *string
}

// EventRecord is an event and the deliveries it produced, stored together.
type EventRecord struct {
	Event      Event
	Deliveries []Delivery
}

// Job is a claimed delivery handed to the dispatcher.
type Job struct {
	DeliveryID    string
	EventID       string
	EnvironmentID string
	URL           string
	Attempts      int // attempts already made
	Body          []byte
	// Headers are the event's extra headers (Event.Headers); nil: none.
	Headers []byte
	// TraceParent is the event's (Event.TraceParent); "": none.
	TraceParent string
	// EventType and ConnectionID are the delivery's (Delivery.Type and
	// Delivery.ConnectionID), for traces.
	EventType, ConnectionID string
	// RoundStart is the delivery's (Delivery.RoundStart).
	RoundStart int
	// Handed is when a live ingest handed the delivery to the dispatcher
	// (not stored: the dispatcher measures live traffic's lag from it);
	// zero for claimed deliveries and bulk work.
	Handed time.Time
	// LeaseGen is the claim's fencing token: the generation of the lease
	// this process holds. Outcomes, renewals and releases carry it, and a
	// store ignores them once another claim has taken the delivery.
	LeaseGen int64
}

// FreshLeaseGen is the lease generation of a delivery stored already
// claimed by the process that ingested it.
const FreshLeaseGen = 1

// Lease names one claimed delivery and the generation of its lease.
type Lease struct {
	DeliveryID string
	Gen        int64
}

// AttemptResult is the outcome of one attempt and the delivery's next state.
type AttemptResult struct {
	DeliveryID string
	LeaseGen   int64 // the Job's; a stale one makes the store drop the result
	// EnvironmentID and URL are the delivery's; with Health they count
	// toward its endpoint (EndpointStore): a success or a failure in the
	// figures of Attempt.StartedAt's minute and in the endpoint's
	// consecutive failures, a throttled attempt or "" nowhere.
	EnvironmentID, URL string
	Health             string
	Attempt            Attempt
	Status             string     // next delivery status
	NextAttemptAt      *time.Time // when Status is pending
}

// DeliveryFilter selects deliveries for the log (docs/retries.md).
type DeliveryFilter struct {
	Status            string
	Type              string
	ConnectionID      string
	ProviderConfigKey string
	Since, Until      *time.Time
	Limit             int
	Cursor            string // id of the last delivery of the previous page
}

// ClaimRequest asks for due deliveries.
type ClaimRequest struct {
	Now         time.Time
	Limit       int
	LeaseUntil  time.Time
	ExcludeURLs []string // lanes that are full
}

// EncodeFieldList writes a list of field names as stores keep it: a JSON
// array, or "" for none (the common case costs no bytes).
func EncodeFieldList(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	b, err := json.Marshal(fields)
	if err != nil { // cannot happen for []string
		return ""
	}
	return string(b)
}

// DecodeFieldList reads what EncodeFieldList wrote.
func DecodeFieldList(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var fields []string
	if err := json.Unmarshal([]byte(s), &fields); err != nil {
		return nil, fmt.Errorf("field list %q: %w", s, err)
	}
	return fields, nil
}
