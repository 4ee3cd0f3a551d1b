package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestFaultDatabaseRefusesConnections: PostgreSQL is up but refuses every
// new connection of herald's role ("too many connections for role",
// SQLSTATE 53300, what a server at max_connections also answers), and the
// connections herald had are terminated. Meanwhile posts must be refused
// with 503 and Retry-After (docs/running.md: the database cannot be
// reached), never 500; once connections are allowed again herald recovers
// by itself and nothing accepted is lost.
//
// It runs alongside the other tests: only its own role is limited.
func TestFaultDatabaseRefusesConnections(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	b := make([]byte, 6)
	rand.Read(b)
	role := "herald_fault_" + hex.EncodeToString(b)
	pgtest.Exec(t, dsn, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		// herald has stopped by now (its cleanup ran first).
		pgtest.Exec(t, dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		pgtest.Exec(t, dsn, "DROP OWNED BY "+role+" CASCADE")
		pgtest.Exec(t, dsn, "DROP ROLE "+role)
	})
	pgtest.Exec(t, dsn, "GRANT ALL ON SCHEMA "+schema+" TO "+role)
	u.User = url.User(role)
	roleDSN := u.String()

	h := startHerald(t, heraldOpts{DB: roleDSN, Lease: crashLease})
	tally := newFaultTally()
	rc := newReceiver(t, func(r received) reply {
		tally.add(r)
		return reply{}
	})
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
	ids := map[string]bool{}
	for i := range 20 {
		ids[e.post(t, syncEvent(i)).Deliveries[0].ID] = true
	}

	// Refuse herald's role any new connection, and end the ones it has.
	pgtest.Exec(t, dsn, "ALTER ROLE "+role+" CONNECTION LIMIT 0")
	pgtest.Exec(t, dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)

	statuses := map[int]int{}
	noRetryAfter, transport := 0, 0
	var last500 string
	const tries = 40
	for i := range tries {
		r, err := e.try("POST", "/events", syncEvent(100+i))
		if err != nil {
			transport++
			continue
		}
		statuses[r.Status]++
		switch r.Status {
		case http.StatusAccepted:
			t.Errorf("POST /events accepted while the database refuses every connection: %s", r)
		case http.StatusServiceUnavailable:
			if r.Header.Get("Retry-After") == "" {
				noRetryAfter++
			}
		default:
			last500 = r.String()
		}
		time.Sleep(25 * time.Millisecond) // pace the probes over about a second
	}
	ready, _ := h.Anon().try("GET", "/readyz", nil)

	pgtest.Exec(t, dsn, "ALTER ROLE "+role+" CONNECTION LIMIT -1")
	allowed := time.Now()
	var recoverIn time.Duration
	waitFor(t, stateTimeout, "a 202 once connections are allowed again", func() (bool, string) {
		r, err := e.try("POST", "/events", syncEvent(1000))
		if err != nil {
			return false, err.Error()
		}
		if r.Status == http.StatusAccepted {
			var a accepted
			r.decode(t, &a)
			ids[a.Deliveries[0].ID] = true
			recoverIn = time.Since(allowed)
			return true, ""
		}
		return false, r.String()
	})
	o := faultSettle(t, e, tally, ids, nil)
	var codes []string
	for code, n := range statuses {
		codes = append(codes, fmt.Sprintf("%d×%d", n, code))
	}
	sort.Strings(codes)
	readyStatus := 0
	if ready != nil {
		readyStatus = ready.Status
	}
	t.Logf("fault: store=postgres refused_connections probes=%d answers=%s 503_without_retry_after=%d transport_errors=%d readyz=%d deliveries=%d lost=%d duplicates=%d recover=%s",
		tries, strings.Join(codes, ","), noRetryAfter, transport, readyStatus, o.accepted, o.lost, o.duplicates, recoverIn.Round(time.Millisecond))
	o.check(t)
	if noRetryAfter > 0 {
		t.Errorf("%d answers 503 without Retry-After", noRetryAfter)
	}
	if transport > 0 {
		t.Errorf("%d posts got no HTTP answer", transport)
	}
	if ready != nil && ready.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while the database refuses connections: %s; want 503", ready)
	}
	if n := tries - statuses[http.StatusServiceUnavailable] - statuses[http.StatusAccepted] - transport; n > 0 {
		// In HEAD (4cbdaaf) internal/store/postgres/postgres.go unavailable()
		// counted a *pgconn.PgError as unavailable only for classes 08 and
		// 57P, so a connection the server refused for its connection limit
		// (class 53) became a 500.
		t.Errorf("%d of %d posts answered other than 503 while PostgreSQL refused connections with SQLSTATE 53300 "+
			"(too many connections); last: %s. docs/running.md promises 503 unavailable with Retry-After: 1 whenever "+
			"the database cannot be reached: unavailable() in internal/store/postgres/postgres.go must count class 53",
			n, tries, last500)
	}
}
