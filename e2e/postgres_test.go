package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/pgtest"
)

// These tests exercise what only the shared PostgreSQL store offers:
// several herald processes on one database, a process killed while the
// others go on, and the database itself going away.

// statusCounts counts deliveries by status straight from the database.
func statusCounts(t *testing.T, dsn string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		t.Fatalf("count deliveries: %v", err)
	}
	counts := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return counts
}

// waitAllSucceededPG waits until every delivery stored is succeeded, and
// at least want of them. (A process killed after its commit but before its
// 202 reached the producer stored deliveries that nobody counted.)
func waitAllSucceededPG(t *testing.T, dsn string, want int) {
	t.Helper()
	waitFor(t, 3*stateTimeout, fmt.Sprintf("%d deliveries succeeded", want), func() (bool, string) {
		c := statusCounts(t, dsn)
		return c["succeeded"] >= want && len(c) == 1, fmt.Sprint(c)
	})
}

// startCluster starts n herald processes on one new schema.
func startCluster(t *testing.T, dsn string, n int, lease time.Duration) []*herald {
	t.Helper()
	var hs []*herald
	for range n {
		hs = append(hs, startHerald(t, heraldOpts{DB: dsn, Lease: lease}))
	}
	return hs
}

// postSpread posts events in batches of per, spreading the batches over
// the processes (round robin), from a few producers at once, and returns
// the delivery ids accepted (202) by each process. With tolerate, a batch
// that a process could not take (it was killed) is left out; otherwise it
// fails the test.
func postSpread(t *testing.T, hs []*herald, key string, events, per int, tolerate bool) []map[string]bool {
	t.Helper()
	acc := make([]map[string]bool, len(hs))
	for i := range acc {
		acc[i] = map[string]bool{}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	batches := make(chan int)
	// Each batch carries an Idempotency-Key, as a producer that retries
	// should: net/http then sends a batch again by itself when the
	// keep-alive connection it reused turns out closed (a write error
	// before any answer), and herald answers a repeat with what it
	// stored. The keys are new for each call: a test may post the same
	// events twice on purpose.
	nonce := uuid.NewString()
	for range 6 {
		wg.Go(func() {
			for b := range batches {
				p := b % len(hs)
				evs := make([]string, 0, per)
				for i := b * per; i < min((b+1)*per, events); i++ {
					evs = append(evs, syncEvent(i))
				}
				c := &client{base: hs[p].URL, key: key}
				r, err := c.try("POST", "/events/batch", `{"events":[`+strings.Join(evs, ",")+`]}`,
					"Idempotency-Key", fmt.Sprintf("%s-%d", nonce, b))
				if err != nil || r.Status != http.StatusAccepted {
					if !tolerate {
						t.Errorf("POST /events/batch to process %d: %v %v", p, r, err)
					}
					continue
				}
				var out struct {
					Results []accepted `json:"results"`
				}
				if err := json.Unmarshal(r.Body, &out); err != nil {
					t.Errorf("POST /events/batch: %v", err)
					continue
				}
				mu.Lock()
				for _, a := range out.Results {
					for _, d := range a.Deliveries {
						acc[p][d.ID] = true
					}
				}
				mu.Unlock()
			}
		})
	}
	for b := 0; b*per < events; b++ {
		batches <- b
	}
	close(batches)
	wg.Wait()
	return acc
}

func TestPostgresThreeProcesses(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	hs := startCluster(t, dsn, 3, 0)
	rc := newReceiver(t, nil)
	e := newEnv(t, hs[0])
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	const events = 20000
	accepted := postSpread(t, hs, e.key, events, 100, false)
	total := 0
	for _, a := range accepted {
		total += len(a)
	}
	if total != events {
		t.Fatalf("%d deliveries accepted, want %d", total, events)
	}
	waitAllSucceededPG(t, dsn, events)

	seen := map[string]int{}
	for _, r := range rc.Requests() {
		seen[r.Header.Get("X-Herald-Delivery-Id")]++
	}
	twice := 0
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	if len(seen) != events || twice != 0 || rc.Count() != events {
		t.Fatalf("receiver: %d requests, %d distinct deliveries, %d delivered more than once; want %d, %d, 0",
			rc.Count(), len(seen), twice, events, events)
	}
	t.Logf("3 processes, %d events: every delivery succeeded, none twice", events)
}

// localPorts lists the local TCP ports of the sockets process pid has open.
func localPorts(t *testing.T, pid int) map[string]bool {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("list sockets of %d: %v", pid, err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	ports := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			if i := strings.LastIndex(f[1], ":"); i >= 0 {
				if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil {
					ports[strconv.FormatUint(p, 10)] = true
				}
			}
		}
	}
	return ports
}

func TestPostgresKillOneOfThree(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	hs := startCluster(t, dsn, 3, crashLease)
	const events = 3000
	var once sync.Once
	killNow := make(chan struct{})
	rc := newReceiver(t, func(r received) reply {
		if r.N == events/3 {
			once.Do(func() { close(killNow) })
		}
		return reply{Delay: 5 * time.Millisecond}
	})
	e := newEnv(t, hs[0])
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	var accepted []map[string]bool
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		accepted = postSpread(t, hs, e.key, events, 50, true)
	}()
	select {
	case <-killNow:
	case <-time.After(stateTimeout):
		t.Fatalf("the receiver saw only %d requests", rc.Count())
	}
	// The sockets the victim has open when it dies: a request that came
	// through one of them was made by the victim.
	victim := hs[1]
	victimPorts := localPorts(t, victim.cmd.Process.Pid)
	victim.Kill()
	atKill := rc.Count()
	<-posted // producers posting to the victim see errors; they count only 202s

	total := 0
	for _, a := range accepted {
		total += len(a)
	}
	waitAllSucceededPG(t, dsn, total)

	firstFrom := map[string]string{} // delivery id → remote of its first request
	seen := map[string]int{}
	for _, r := range rc.Requests() {
		id := r.Header.Get("X-Herald-Delivery-Id")
		if seen[id] == 0 {
			firstFrom[id] = r.Remote
		}
		seen[id]++
	}
	lost, dups, dupsFromVictim := 0, 0, 0
	for _, a := range accepted {
		for id := range a {
			if seen[id] == 0 {
				lost++
			}
		}
	}
	for id, n := range seen {
		if n < 2 {
			continue
		}
		dups++
		_, port, _ := strings.Cut(firstFrom[id], "127.0.0.1:")
		if victimPorts[port] {
			dupsFromVictim++
		}
	}
	t.Logf("kill -9 of 1 of 3 processes after %d of %d requests: %d deliveries accepted, %d lost; %d delivered twice, %d of them first sent by the killed process",
		atKill, events, total, lost, dups, dupsFromVictim)
	if lost != 0 {
		t.Errorf("%d accepted deliveries never arrived", lost)
	}
	if dups != dupsFromVictim {
		t.Errorf("%d duplicates were not in flight in the killed process", dups-dupsFromVictim)
	}
}

// pgCluster runs pg_ctlcluster on this machine's cluster.
func pgCluster(t *testing.T, action string) {
	t.Helper()
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) == 0 {
		if pgtest.Required() {
			t.Fatalf("no PostgreSQL cluster to %s here (/etc/postgresql): %v", action, err)
		}
		t.Skipf("no local PostgreSQL cluster to %s", action)
	}
	out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", action).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_ctlcluster %s: %v\n%s", action, err, out)
	}
}

// TestPostgresRestart stops the database mid-run and starts it again:
// herald answers 503 meanwhile, stores nothing it cannot keep, and
// recovers by itself. It runs alone (pgtest.Exclusive): other tests in any
// package wait for it.
func TestPostgresRestart(t *testing.T) {
	dsn := pgtest.Exclusive(t)
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		if pgtest.Required() {
			t.Fatal("pg_ctlcluster not found: cannot restart PostgreSQL")
		}
		t.Skip("pg_ctlcluster not found: cannot restart PostgreSQL here")
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			pgCluster(t, "start")
		}
	})
	hs := startCluster(t, dsn, 2, 0)
	rc := newReceiver(t, func(received) reply { return reply{Delay: 2 * time.Millisecond} })
	e := newEnv(t, hs[0])
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	before := postSpread(t, hs, e.key, 1000, 50, false)
	pgCluster(t, "stop")

	// While the database is down: not ready, and events are refused with
	// 503 rather than accepted and lost.
	for _, h := range hs {
		r, err := h.Anon().try("GET", "/readyz", nil)
		if err != nil || r.Status != http.StatusServiceUnavailable {
			t.Errorf("/readyz with the database down: %v %v; want 503", r, err)
		}
		r, err = (&client{base: h.URL, key: e.key}).try("POST", "/events", syncEvent(1))
		if err != nil || r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("POST /events with the database down: %v %v; want 503 with Retry-After", r, err)
		}
	}
	pgCluster(t, "start")
	restarted = true

	// herald reconnects by itself.
	for _, h := range hs {
		waitFor(t, stateTimeout, "ready again", func() (bool, string) {
			r, err := h.Anon().try("GET", "/readyz", nil)
			return err == nil && r.Status == http.StatusOK, fmt.Sprint(r, err)
		})
	}
	after := postSpread(t, hs, e.key, 1000, 50, false)
	total := 0
	for _, a := range append(before, after...) {
		total += len(a)
	}
	waitAllSucceededPG(t, dsn, total)
	seen := map[string]bool{}
	for _, r := range rc.Requests() {
		seen[r.Header.Get("X-Herald-Delivery-Id")] = true
	}
	for _, a := range append(before, after...) {
		for id := range a {
			if !seen[id] {
				t.Fatalf("delivery %s was accepted but never arrived", id)
			}
		}
	}
	t.Logf("database stopped and started mid-run: %d deliveries accepted, all succeeded, %d requests in all", total, rc.Count())
}
