package api_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/testkit"
)

// onEachStore runs test on a SQLite fixture and on a PostgreSQL one
// (skipped unless PostgreSQL is reachable; failed when
// HERALD_TEST_POSTGRES=required and it is not).
func onEachStore(t *testing.T, o options, test func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newFixture(t, o)) })
	t.Run("postgres", func(t *testing.T) {
		o := o
		o.postgresDSN = pgtest.DSN(t)
		test(t, newFixture(t, o))
	})
}

// storedNothing fails the test unless env has no delivery in the store
// behind the cache, and rc received nothing: every event here is one that
// a stored event would have delivered to rc.
func storedNothing(t *testing.T, f *fixture, env *herald.Environment, rc *testkit.Receiver) {
	t.Helper()
	ds, err := f.raw.ListDeliveries(t.Context(), env.ID, herald.DeliveryFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Fatalf("%d deliveries stored, want none", len(ds))
	}
	if n := len(rc.Requests()); n != 0 {
		t.Fatalf("receiver got %d requests, want none", n)
	}
}

const forwardEvent = `{"type":"forward","connectionId":"c1","providerConfigKey":"p","payload":{"k":"v"}}`

// TestBadTextRefusedOnSQLiteAndPostgres: a NUL or a lone surrogate in an
// identifier of an event, in the Idempotency-Key header or in a query
// value is 400 naming the input, on SQLite and on PostgreSQL alike
// (PostgreSQL refuses NUL in text and used to answer 500), and nothing is
// stored.
func TestBadTextRefusedOnSQLiteAndPostgres(t *testing.T) {
	const ib, iq = "invalid_body", "invalid_query_params"
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		code                     string
		mention                  string
	}{
		// Identifiers in event bodies, as JSON escapes.
		{"event_connection_id_nul", "POST", "/events", strings.Replace(forwardEvent, `"c1"`, `"c\u0000"`, 1), nil, ib, "connectionId"},
		{"event_provider_config_key_lone_surrogate", "POST", "/events", strings.Replace(forwardEvent, `"p"`, `"p\udead"`, 1), nil, ib, "providerConfigKey"},
		{"event_from_nul", "POST", "/events", strings.Replace(forwardEvent, `"type"`, `"from":"\u0000","type"`, 1), nil, ib, "from"},
		{"event_sync_name_nul", "POST", "/events", strings.Replace(validSync, `"syncName":"s"`, `"syncName":"s\u0000"`, 1), nil, ib, "syncName"},
		{"event_model_lone_surrogate", "POST", "/events", strings.Replace(validSync, `"model":"M"`, `"model":"\ud800"`, 1), nil, ib, "model"},
		{"event_sync_variant_nul", "POST", "/events", strings.Replace(validSync, `"model"`, `"syncVariant":"\u0000","model"`, 1), nil, ib, "syncVariant"},
		{"event_auth_provider_nul", "POST", "/events", strings.Replace(validAuth, `"provider":"github"`, `"provider":"git\u0000hub"`, 1), nil, ib, "provider"},
		{"event_async_payload_id_nul", "POST", "/events",
			`{"type":"async_action","connectionId":"c1","providerConfigKey":"p","payload":{"id":"\u0000","statusUrl":"/a"}}`, nil, ib, "payload.id"},
		{"batch_event_connection_id_nul", "POST", "/events/batch",
			`{"events":[` + forwardEvent + `,` + strings.Replace(forwardEvent, `"c1"`, `"\u0000"`, 1) + `]}`, nil, ib, "events[1].connectionId"},
		// The Idempotency-Key header: ill-formed UTF-8 reaches the handler
		// (NUL does not, see TestNULHeaderRefused).
		{"event_idempotency_key_invalid_utf8", "POST", "/events", forwardEvent, []string{"Idempotency-Key", "key-\xff"}, ib, "Idempotency-Key"},
		{"event_idempotency_key_wtf8_surrogate", "POST", "/events", forwardEvent, []string{"Idempotency-Key", "key-\xed\xba\xad"}, ib, "Idempotency-Key"},
		{"batch_idempotency_key_invalid_utf8", "POST", "/events/batch", `{"events":[` + forwardEvent + `]}`, []string{"Idempotency-Key", "\xc0\xaf"}, ib, "Idempotency-Key"},
		// Query values of GET /deliveries.
		{"query_connection_id_nul", "GET", "/deliveries?connection_id=c%00", "", nil, iq, "connection_id"},
		{"query_provider_config_key_nul", "GET", "/deliveries?provider_config_key=%00", "", nil, iq, "provider_config_key"},
		{"query_connection_id_invalid_utf8", "GET", "/deliveries?connection_id=%FF", "", nil, iq, "connection_id"},
		{"query_provider_config_key_lone_surrogate", "GET", "/deliveries?provider_config_key=%ED%BA%AD", "", nil, iq, "provider_config_key"},
		{"query_cursor_nul", "GET", "/deliveries?cursor=%00", "", nil, iq, "cursor"},
		{"query_status_nul", "GET", "/deliveries?status=pending%00", "", nil, iq, "status"},
		{"query_unknown_parameter_nul", "GET", "/deliveries?x=%00", "", nil, iq, "x"},
	}
	onEachStore(t, options{}, func(t *testing.T, f *fixture) {
		rc := newReceiver(t)
		env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/hook")})
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var body any
				if c.body != "" {
					body = c.body
				}
				r := f.do(t, c.method, c.path, env.SecretKey, body, c.hdr...)
				checkError(t, r, http.StatusBadRequest, c.code, c.mention)
			})
		}
		storedNothing(t, f, env, rc)
		// The same inputs, well formed, are accepted: the refusals were
		// about the text alone.
		f.do(t, "GET", "/deliveries?connection_id=c1&provider_config_key=p", env.SecretKey, nil).want(t, http.StatusOK)
		f.do(t, "POST", "/events", env.SecretKey, forwardEvent, "Idempotency-Key", "key-é").want(t, http.StatusAccepted)
	})
}

// TestNULHeaderRefused: a NUL in the Idempotency-Key header never reaches
// herald (Go's server refuses the request), and nothing is stored.
func TestNULHeaderRefused(t *testing.T) {
	onEachStore(t, options{}, func(t *testing.T, f *fixture) {
		rc := newReceiver(t)
		env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/hook")})
		conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: a\x00b\r\n"+
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", env.SecretKey, len(forwardEvent), forwardEvent)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
		storedNothing(t, f, env, rc)
	})
}

// TestBatchWithOneNULIdStoresNothing: one event with a NUL connectionId
// among 1,000 refuses the whole batch with 400 naming it, and stores
// nothing, on SQLite and PostgreSQL.
func TestBatchWithOneNULIdStoresNothing(t *testing.T) {
	const bad = 637
	events := make([]string, 1000)
	for i := range events {
		events[i] = strings.Replace(forwardEvent, `"c1"`, fmt.Sprintf(`"c%d"`, i), 1)
	}
	events[bad] = strings.Replace(forwardEvent, `"c1"`, `"c\u0000637"`, 1)
	body := `{"events":[` + strings.Join(events, ",") + `]}`
	onEachStore(t, options{}, func(t *testing.T, f *fixture) {
		rc := newReceiver(t)
		env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/hook")})
		r := f.do(t, "POST", "/events/batch", env.SecretKey, body, "Idempotency-Key", "batch-1")
		checkError(t, r, http.StatusBadRequest, "invalid_body", fmt.Sprintf("events[%d].connectionId", bad))
		storedNothing(t, f, env, rc)
		// The key was not used up: the corrected batch is accepted with it.
		// (Without a URL now, so that no 1,000 webhooks need sending.)
		f.do(t, "PATCH", "/environment/webhook", env.SecretKey, `{"primary_url":null}`).want(t, http.StatusOK)
		events[bad] = forwardEvent
		fixed := `{"events":[` + strings.Join(events, ",") + `]}`
		f.do(t, "POST", "/events/batch", env.SecretKey, fixed, "Idempotency-Key", "batch-1").want(t, http.StatusAccepted)
	})
}
