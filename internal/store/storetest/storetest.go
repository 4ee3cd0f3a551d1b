package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
)

// Run runs the whole suite. open must return a new, empty store and arrange
// (with t.Cleanup) for it to be closed; every subtest opens its own.
func Run(t *testing.T, open func(t *testing.T) herald.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Environments", environmentTests()},
		{"Ingest", ingestTests()},
		{"Reads", readTests()},
		{"Dispatch", dispatchTests()},
		{"Registry", registryTests()},
		{"Operations", operationsTests()},
		{"Stats", statsTests()},
		{"Retention", retentionTests()},
		{"OTLP", otlpTests()},
		{"Endpoints", endpointTests()},
		{"Misc", []test{{"Ping", testPing}, {"ClosedIsUnavailable", testClosedIsUnavailable}}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, open(t))
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s herald.Store)
}

func testPing(t *testing.T, s herald.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// A write after Close is herald.ErrUnavailable on every store, so that a
// request racing with shutdown is answered 503 (retry), never 500.
func testClosedIsUnavailable(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "closed")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ev := herald.Event{ID: newID(t), EnvironmentID: env.ID, Type: "auth", Body: []byte(`{}`), CreatedAt: t0}
	_, err := s.Ingest(t.Context(), herald.IngestRequest{EnvironmentID: env.ID, Now: t0,
		Events: []herald.EventRecord{{Event: ev}}})
	if !errors.Is(err, herald.ErrUnavailable) {
		t.Fatalf("Ingest after Close: err = %v, want herald.ErrUnavailable", err)
	}
}

// t0 is the suite's clock origin. It has a sub-millisecond part on purpose:
// stores keep milliseconds and every assertion compares at that precision.
var t0 = time.Date(2025, time.March, 14, 9, 26, 53, 589_793_238, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func sameMS(a, b time.Time) bool { return a.UnixMilli() == b.UnixMilli() }

func ptr[T any](v T) *T { return &v }

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatalf("uuid: %v", err)
	}
	return id.String()
}

// newEnv creates an environment named name with default settings.
func newEnv(t testing.TB, s herald.Store, name string) *herald.Environment {
	t.Helper()
	env := makeEnv(t, name, t0)
	if err := s.CreateEnvironment(t.Context(), env); err != nil {
		t.Fatalf("CreateEnvironment(%s): %v", name, err)
	}
	return env
}

func makeEnv(t testing.TB, name string, created time.Time) *herald.Environment {
	t.Helper()
	secret := "sk_" + uuid.NewString()
	sum := sha256.Sum256([]byte(secret))
	return &herald.Environment{
		ID:            newID(t),
		Name:          name,
		SecretKey:     secret,
		SecretKeyHash: sum[:],
		SigningKey:    uuid.NewString(),
		Settings:      herald.DefaultSettings(),
		CreatedAt:     created,
	}
}

// spec describes an event to build; zero fields get defaults.
type spec struct {
	Type, Conn, PCK string
	URLs            []string
	Created         time.Time  // default t0
	Due             *time.Time // next_attempt_at of the deliveries; default Created
}

const (
	urlA = "https://a.example.com/hooks"
	urlB = "https://b.example.com/hooks?via=herald"
	urlC = "https://c.example.com/hooks"
)

// makeEvent builds an event of envID with one pending delivery per URL.
func makeEvent(t testing.TB, envID string, sp spec) herald.EventRecord {
	t.Helper()
	if sp.Type == "" {
		sp.Type = "sync"
	}
	if sp.Conn == "" {
		sp.Conn = "conn-1"
	}
	if sp.PCK == "" {
		sp.PCK = "github"
	}
	if sp.Created.IsZero() {
		sp.Created = t0
	}
	due := sp.Created
	if sp.Due != nil {
		due = *sp.Due
	}
	id := newID(t)
	body := fmt.Sprintf(`{"connectionId":%q,"from":"nango","providerConfigKey":%q,"syncName":"issues","type":%q,"x":%q}`,
		sp.Conn, sp.PCK, sp.Type, id)
	ev := herald.Event{ID: id, EnvironmentID: envID, Type: sp.Type, ConnectionID: sp.Conn, ProviderConfigKey: sp.PCK,
		Body: []byte(body), CreatedAt: sp.Created}
	if len(sp.URLs) == 0 {
		ev.Skipped = "no_webhook_url"
	}
	ne := herald.EventRecord{Event: ev}
	for _, u := range sp.URLs {
		next := due
		ne.Deliveries = append(ne.Deliveries, herald.Delivery{ID: newID(t), EventID: id, EnvironmentID: envID,
			Type: sp.Type, ConnectionID: sp.Conn, ProviderConfigKey: sp.PCK, URL: u, Status: herald.StatusPending,
			CreatedAt: sp.Created, UpdatedAt: sp.Created, NextAttemptAt: &next})
	}
	return ne
}

// ingest stores events of envID in one request without an idempotency key.
func ingest(t testing.TB, s herald.Store, envID string, events ...herald.EventRecord) {
	t.Helper()
	replay, err := s.Ingest(t.Context(), herald.IngestRequest{EnvironmentID: envID, Events: events, Now: t0})
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if replay != nil {
		t.Fatalf("Ingest without Idempotency-Key replayed %q", replay)
	}
}

// deliveriesOf flattens the deliveries of events.
func deliveriesOf(events ...herald.EventRecord) []herald.Delivery {
	var ds []herald.Delivery
	for _, e := range events {
		ds = append(ds, e.Deliveries...)
	}
	return ds
}

func ids(ds []herald.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func jobIDs(js []herald.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.DeliveryID
	}
	return out
}

// firstLeases names deliveries held under their first lease.
func firstLeases(ids ...string) []herald.Lease {
	out := make([]herald.Lease, len(ids))
	for i, id := range ids {
		out[i] = herald.Lease{DeliveryID: id, Gen: herald.FreshLeaseGen}
	}
	return out
}

// jobLeases names the leases of claimed jobs.
func jobLeases(js []herald.Job) []herald.Lease {
	out := make([]herald.Lease, len(js))
	for i, j := range js {
		out[i] = herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// newestFirst sorts deliveries the way the log lists them.
func newestFirst(ds []herald.Delivery) []herald.Delivery {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b herald.Delivery) int { return strings.Compare(b.ID, a.ID) })
	return ds
}

func claim(t testing.TB, s herald.Store, now time.Time, limit int, exclude ...string) []herald.Job {
	t.Helper()
	jobs, err := s.ClaimDue(t.Context(), herald.ClaimRequest{Now: now, Limit: limit, LeaseUntil: now.Add(time.Minute), ExcludeURLs: exclude})
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	return jobs
}

// record writes outcomes; a result without a LeaseGen is for a delivery's
// first claim (generation 1), which is what most tests hold.
func record(t testing.TB, s herald.Store, results ...herald.AttemptResult) {
	t.Helper()
	for i := range results {
		if results[i].LeaseGen == 0 {
			results[i].LeaseGen = herald.FreshLeaseGen
		}
	}
	if err := s.RecordAttempts(t.Context(), results); err != nil {
		t.Fatalf("RecordAttempts: %v", err)
	}
}

func getDelivery(t testing.TB, s herald.Store, envID, id string) (*herald.Delivery, []byte, []herald.Attempt) {
	t.Helper()
	d, body, attempts, err := s.GetDelivery(t.Context(), envID, id)
	if err != nil {
		t.Fatalf("GetDelivery(%s): %v", id, err)
	}
	return d, body, attempts
}

func list(t testing.TB, s herald.Store, envID string, f herald.DeliveryFilter) []herald.Delivery {
	t.Helper()
	ds, err := s.ListDeliveries(t.Context(), envID, f)
	if err != nil {
		t.Fatalf("ListDeliveries(%+v): %v", f, err)
	}
	return ds
}

func wantNotFound(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("%s: err = %v, want herald.ErrNotFound", what, err)
	}
}

// checkDelivery compares the fields a store must keep (UpdatedAt is the
// store's own business).
func checkDelivery(t testing.TB, got, want herald.Delivery) {
	t.Helper()
	var diffs []string
	eq := func(field string, g, w any) {
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", field, g, w))
		}
	}
	eq("ID", got.ID, want.ID)
	eq("EventID", got.EventID, want.EventID)
	eq("EnvironmentID", got.EnvironmentID, want.EnvironmentID)
	eq("Type", got.Type, want.Type)
	eq("ConnectionID", got.ConnectionID, want.ConnectionID)
	eq("ProviderConfigKey", got.ProviderConfigKey, want.ProviderConfigKey)
	eq("URL", got.URL, want.URL)
	eq("Status", got.Status, want.Status)
	eq("Attempts", got.Attempts, want.Attempts)
	eq("RoundStart", got.RoundStart, want.RoundStart)
	if !sameMS(got.CreatedAt, want.CreatedAt) {
		diffs = append(diffs, fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt))
	}
	eq("NextAttemptAt", fmtTime(got.NextAttemptAt), fmtTime(want.NextAttemptAt))
	eq("LastStatusCode", fmtPtr(got.LastStatusCode), fmtPtr(want.LastStatusCode))
	eq("LastError", fmtPtr(got.LastError), fmtPtr(want.LastError))
	if len(diffs) > 0 {
		t.Errorf("delivery %s:\n\t%s", want.ID, strings.Join(diffs, "\n\t"))
	}
}

func fmtTime(p *time.Time) string {
	if p == nil {
		return "<nil>"
	}
	return p.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

// checkEvent compares an event read back with the one stored.
func checkEvent(t testing.TB, got *herald.Event, want herald.Event) {
	t.Helper()
	if got.ID != want.ID || got.EnvironmentID != want.EnvironmentID || got.Type != want.Type ||
		got.ConnectionID != want.ConnectionID || got.ProviderConfigKey != want.ProviderConfigKey ||
		got.Skipped != want.Skipped || !bytes.Equal(got.Body, want.Body) || !sameMS(got.CreatedAt, want.CreatedAt) ||
		!slices.Equal(got.UnknownFields, want.UnknownFields) || !sameBytes(got.Headers, want.Headers) ||
		!sameBytes(got.Inbound, want.Inbound) {
		t.Errorf("event:\n\tgot  %+v (body %s, headers %s, inbound %s)\n\twant %+v (body %s, headers %s, inbound %s)",
			*got, got.Body, got.Headers, got.Inbound, want, want.Body, want.Headers, want.Inbound)
	}
}

// sameBytes is bytes.Equal that also tells nil (none) from empty.
func sameBytes(a, b []byte) bool {
	return bytes.Equal(a, b) && (a == nil) == (b == nil)
}
