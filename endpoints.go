package herald

import (
	"context"
	"math"
	"net/textproto"
	"time"
)

// Endpoint states (SPEC §13), as GET /endpoints shows them.
const (
	EndpointHealthy     = "healthy"
	EndpointDegraded    = "degraded"
	EndpointCircuitOpen = "circuit_open"
	EndpointDisabled    = "disabled"
)

// Reasons an endpoint was disabled (Endpoint.DisabledReason).
const (
	// DisabledManually: POST /endpoints/{id}/disable.
	DisabledManually = "manual"
	// DisabledGone: it answered 410 Gone (Standard Webhooks: the receiver
	// asks to be sent nothing more).
	DisabledGone = "gone"
	// DisabledFailing: every attempt failed for DefaultDisableAfter (or
	// the configured time).
	DisabledFailing = "failing"
)

// DefaultDisableAfter is how long an endpoint may fail every attempt
// before herald disables it (as Svix does).
const DefaultDisableAfter = 5 * 24 * time.Hour

// Endpoint is one target URL of an environment (SPEC §13): its primary or
// secondary URL, a connection's override, or any URL herald delivered to.
type Endpoint struct {
	ID            string
	EnvironmentID string
	URL           string
	// Disabled endpoints hold their deliveries (StatusHeld) until enabled.
	Disabled       bool
	DisabledReason string     // "" unless Disabled
	DisabledAt     *time.Time // nil unless Disabled
	// ConsecutiveFailures counts the failed attempts since the last
	// success (throttled ones, 429/503 with Retry-After, do not count);
	// FailingSince is when the first of them started (nil: none).
	ConsecutiveFailures int
	FailingSince        *time.Time
	// CircuitOpenUntil is set while the endpoint's circuit breaker is
	// open: no attempt until then, and after it one probe, whose success
	// clears it (SPEC §13). nil: closed.
	CircuitOpenUntil *time.Time
	// RateLimitPerS and MaxConcurrency are the endpoint's own limits; nil:
	// none, and the dispatcher's default concurrency.
	RateLimitPerS  *int
	MaxConcurrency *int
	// Headers are static request headers sent with every attempt; never
	// one that herald sets itself (ReservedHeader). nil: none.
	Headers   map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// EndpointPatch changes an endpoint's settings (PATCH /endpoints/{id}):
// each field set replaces the stored one. A Set* flag with a nil value
// removes that limit.
type EndpointPatch struct {
	SetRateLimit   bool
	RateLimitPerS  *int
	SetConcurrency bool
	MaxConcurrency *int
	SetHeaders     bool
	Headers        map[string]string
}

// Health is what an attempt says of its endpoint's health
// (AttemptResult.Health).
const (
	// HealthSuccess: a 2xx answer.
	HealthSuccess = "success"
	// HealthFailure: any other answer, a timeout or a network error.
	HealthFailure = "failure"
	// HealthThrottled: 429 or 503 with Retry-After; the endpoint asked
	// for time, which is not a failure.
	HealthThrottled = "throttled"
)

// DurationBuckets is the number of buckets of an endpoint's attempt
// duration histogram: bucket 0 holds attempts under 1 ms, bucket i ≥ 1
// those of [2^(i-1), 2^i) ms, and the last everything longer.
const DurationBuckets = 18

// DurationBucket is the histogram bucket of an attempt of ms milliseconds.
func DurationBucket(ms int64) int {
	if ms < 1 {
		return 0
	}
	b := 1
	for ms >= 2 && b < DurationBuckets-1 {
		ms >>= 1
		b++
	}
	return b
}

// EndpointStats are an endpoint's attempts over a recent span.
type EndpointStats struct {
	Attempts  int64 // successes and failures; throttled ones are not counted
	Successes int64
	Durations [DurationBuckets]int64 // histogram of the counted attempts
}

// SuccessRate is Successes / Attempts, or nil with no attempt.
func (s EndpointStats) SuccessRate() *float64 {
	if s.Attempts == 0 {
		return nil
	}
	r := float64(s.Successes) / float64(s.Attempts)
	return &r
}

// MedianMS is the median attempt duration, interpolated within its
// histogram bucket (so within a factor of two of the true one, and much
// closer when durations spread), or nil with no attempt.
func (s EndpointStats) MedianMS() *int {
	var total int64
	for _, n := range s.Durations {
		total += n
	}
	if total == 0 {
		return nil
	}
	half := float64(total) / 2
	var seen float64
	for i, n := range s.Durations {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= half {
			lo, hi := 0.0, 1.0
			if i > 0 {
				lo, hi = math.Exp2(float64(i-1)), math.Exp2(float64(i))
			}
			ms := int(math.Round(lo + (hi-lo)*(half-seen)/float64(n)))
			return &ms
		}
		seen += float64(n)
	}
	return nil
}

// EndpointStore keeps endpoints (SPEC §13). A store makes sure an
// endpoint exists for every URL of an environment's settings
// (CreateEnvironment, UpdateSettings), for every connection's
// webhook_url_override (PutConnection), and for every URL an attempt went
// to (RecordAttempts); nothing ever deletes one but its environment's
// deletion.
type EndpointStore interface {
	// ListEndpoints lists envID's endpoints in id order, after
	// page.Cursor (an endpoint id).
	ListEndpoints(ctx context.Context, envID string, page Page) ([]Endpoint, error)
	// Endpoint returns envID's endpoint id; ErrNotFound when none.
	Endpoint(ctx context.Context, envID, id string) (*Endpoint, error)
	// EndpointByURL returns envID's endpoint for url; ErrNotFound when
	// none.
	EndpointByURL(ctx context.Context, envID, url string) (*Endpoint, error)
	// UpdateEndpoint applies p and returns the endpoint; ErrNotFound.
	UpdateEndpoint(ctx context.Context, envID, id string, p EndpointPatch, now time.Time) (*Endpoint, error)
	// DisableEndpoint disables the endpoint with reason at now; one
	// already disabled keeps its first reason and time. Its deliveries
	// are held as the dispatcher meets them (HoldDelivery), before any
	// attempt. ErrNotFound.
	DisableEndpoint(ctx context.Context, envID, id, reason string, now time.Time) (*Endpoint, error)
	// EnableEndpoint enables the endpoint, clears its failures and, in
	// the same transaction, makes its held deliveries pending, due from
	// now in the order they were created (oldest first: each a
	// microsecond after the one before). It returns the endpoint and how
	// many deliveries it released. ErrNotFound.
	EnableEndpoint(ctx context.Context, envID, id string, now time.Time) (*Endpoint, int, error)
	// HoldDelivery holds a claimed delivery instead of attempting it: it
	// becomes held (no next attempt, lease cleared) when lease is still
	// its lease and its endpoint (envID, url) is disabled, in one
	// statement. It reports whether it did; false means the endpoint was
	// enabled meanwhile or the lease is gone, and the caller goes on as
	// if it had not asked.
	HoldDelivery(ctx context.Context, lease Lease, envID, url string, now time.Time) (bool, error)
	// SetCircuit opens the endpoint's circuit until until, or closes it
	// (nil). ErrNotFound is not reported: the endpoint may be gone.
	SetCircuit(ctx context.Context, envID, id string, until *time.Time, now time.Time) error
	// DeferDeliveries gives claimed deliveries back without an attempt:
	// each still under its lease becomes pending, due at until, with
	// reason as its last error; its attempts and retry budget are
	// untouched (an open circuit, an endpoint's Retry-After).
	DeferDeliveries(ctx context.Context, leases []Lease, until time.Time, reason string, now time.Time) error
	// EndpointStats returns the attempts of each of urls of envID that
	// started at or after since (whole minutes: the minute of since
	// included). URLs with none are absent.
	EndpointStats(ctx context.Context, envID string, urls []string, since time.Time) (map[string]EndpointStats, error)
}

// TokenBuckets share endpoints' rate limits (rate_limit_per_s) among the
// processes on one database. A store that only one process uses has no
// need of it: each process's own limiter is exact.
type TokenBuckets interface {
	// TakeTokens takes up to want tokens from endpointID's bucket, which
	// fills at perSecond up to burst, and returns how many it took; with
	// none, how long until there is one.
	TakeTokens(ctx context.Context, endpointID string, perSecond, burst, want int) (int, time.Duration, error)
}

// reservedHeaders are the request headers herald sets itself, or that the
// HTTP transport owns: an endpoint's static headers may not name them.
var reservedHeaders = map[string]bool{
	"Content-Type": true, "User-Agent": true, "X-Nango-Hmac-Sha256": true, "X-Nango-Signature": true,
	"X-Herald-Delivery-Id": true, "X-Herald-Event-Id": true, "X-Herald-Attempt": true,
	"Webhook-Id": true, "Webhook-Timestamp": true, "Webhook-Signature": true,
	"Host": true, "Content-Length": true, "Content-Encoding": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Upgrade": true, "Te": true, "Trailer": true, "Accept-Encoding": true,
	"Proxy-Authorization": true, "Proxy-Connection": true, "Expect": true,
}

// ReservedHeader reports whether name (any case) is a request header
// herald sets itself or the HTTP transport owns (SPEC §13: an endpoint's
// static headers may not use it).
func ReservedHeader(name string) bool {
	return reservedHeaders[textproto.CanonicalMIMEHeaderKey(name)]
}
