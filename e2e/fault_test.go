package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/pgtest"
)

// The fault suite: herald under kill -9 at random moments, with its
// PostgreSQL database stopped and started under load, and against
// receivers that misbehave in every way a TCP peer can. Each test prints
// one line of counts, "fault…: key=value …", so that runs can be compared.

// ---------------------------------------------------------------------------
// Helpers shared by the fault tests.

// faultProcs holds the herald processes a test kills and restarts; the
// producers read the current address of each slot.
type faultProcs struct {
	mu sync.Mutex
	hs []*herald
}

func (p *faultProcs) get(i int) *herald {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hs[i%len(p.hs)]
}

func (p *faultProcs) set(i int, h *herald) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hs[i] = h
}

func (p *faultProcs) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.hs)
}

// faultProducer posts batches of sync events, each batch with its own
// Idempotency-Key, and resends a batch whose request failed (transport
// error or 5xx) with the same key until it is accepted or the deadline
// passes. It counts what it saw.
type faultProducer struct {
	t        *testing.T
	procs    *faultProcs
	key      string // the environment's secret key
	per      int    // events per batch
	deadline time.Time
	// keyPrefix makes the Idempotency-Keys of one producer distinct from
	// another's in the same environment.
	keyPrefix string

	mu          sync.Mutex
	accepted    map[string]bool // delivery ids from 202 answers
	requests    int
	transport   int         // requests that got no HTTP answer (process killed, connection reset)
	status5xx   map[int]int // 5xx answers by status
	noRetry     int         // 503 answers without Retry-After
	resent      int         // batches sent more than once
	unaccepted  []int       // batches never accepted before the deadline
	first202    time.Time   // first 202 at or after watch202
	watch202    time.Time
	last5xxText string
}

func newFaultProducer(t *testing.T, procs *faultProcs, key, keyPrefix string, per int, deadline time.Time) *faultProducer {
	return &faultProducer{t: t, procs: procs, key: key, keyPrefix: keyPrefix, per: per, deadline: deadline,
		accepted: map[string]bool{}, status5xx: map[int]int{}}
}

// watch starts measuring the time to the next 202 (returned by recovered).
func (p *faultProducer) watch(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watch202, p.first202 = at, time.Time{}
}

func (p *faultProducer) recovered() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first202.IsZero() {
		return 0, false
	}
	return p.first202.Sub(p.watch202), true
}

func (p *faultProducer) acceptedIDs() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool, len(p.accepted))
	for id := range p.accepted {
		out[id] = true
	}
	return out
}

// run posts batches first..last-1 from workers goroutines and returns
// when every batch is accepted or given up.
func (p *faultProducer) run(first, last, workers int) {
	batches := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range batches {
				p.postBatch(b)
			}
		})
	}
	for b := first; b < last; b++ {
		batches <- b
	}
	close(batches)
	wg.Wait()
}

func (p *faultProducer) postBatch(b int) {
	events := make([]string, p.per)
	for i := range events {
		events[i] = syncEvent(b*p.per + i)
	}
	body := `{"events":[` + strings.Join(events, ",") + `]}`
	idemKey := fmt.Sprintf("%s-%d", p.keyPrefix, b)
	for attempt := 0; ; attempt++ {
		if time.Now().After(p.deadline) {
			p.mu.Lock()
			p.unaccepted = append(p.unaccepted, b)
			p.mu.Unlock()
			p.t.Errorf("batch %d (Idempotency-Key %s) not accepted before the deadline after %d requests", b, idemKey, attempt)
			return
		}
		if attempt == 1 {
			p.mu.Lock()
			p.resent++
			p.mu.Unlock()
		}
		// Spread the attempts over the processes; after a failure the next
		// attempt goes to the other process (or the restarted one).
		c := &client{base: p.procs.get(b + attempt).URL, key: p.key}
		r, err := c.try("POST", "/events/batch", body, "Idempotency-Key", idemKey)
		p.mu.Lock()
		p.requests++
		switch {
		case err != nil:
			p.transport++
		case r.Status >= 500:
			p.status5xx[r.Status]++
			if r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "" {
				p.noRetry++
			}
			p.last5xxText = r.String()
		}
		p.mu.Unlock()
		if err != nil || r.Status >= 500 {
			// A bounded poll for the process (or its database) to be back;
			// herald asks for Retry-After: 1, but a quicker resend measures
			// the recovery more finely and is just as safe with the key.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if r.Status != http.StatusAccepted {
			p.t.Errorf("batch %d: %s; want 202 (or a 5xx or transport error to resend)", b, r)
			p.mu.Lock()
			p.unaccepted = append(p.unaccepted, b)
			p.mu.Unlock()
			return
		}
		var out struct {
			Results []accepted `json:"results"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil || len(out.Results) != p.per {
			p.t.Errorf("batch %d: %s: %d results (%v), want %d", b, r, len(out.Results), err, p.per)
			return
		}
		now := time.Now()
		p.mu.Lock()
		for _, a := range out.Results {
			if len(a.Deliveries) != 1 {
				p.t.Errorf("batch %d: event %s has %d deliveries, want 1", b, a.ID, len(a.Deliveries))
			}
			for _, d := range a.Deliveries {
				p.accepted[d.ID] = true
			}
		}
		if !p.watch202.IsZero() && p.first202.IsZero() && !now.Before(p.watch202) {
			p.first202 = now
		}
		p.mu.Unlock()
		return
	}
}

// faultTally counts, by X-Herald-Delivery-Id, the requests a receiver got,
// without copying the receiver's whole log at every poll.
type faultTally struct {
	mu   sync.Mutex
	seen map[string]int
}

func newFaultTally() *faultTally { return &faultTally{seen: map[string]int{}} }

func (ft *faultTally) add(r received) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.seen[r.Header.Get("X-Herald-Delivery-Id")]++
}

// covers reports how many of want arrived at least once.
func (ft *faultTally) covers(want map[string]bool) int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	n := 0
	for id := range want {
		if ft.seen[id] > 0 {
			n++
		}
	}
	return n
}

// faultOutcome is what a fault test counts once herald has settled.
type faultOutcome struct {
	accepted   int
	lost       int // accepted, never received
	duplicates int // received more than once
	extra      int // requests beyond the first of each delivery
	unexpected int // received ids that no 202 returned
	orphans    int // deliveries in the log that no 202 returned
	notDone    int // accepted deliveries not succeeded at the end
	settled    bool
	settleIn   time.Duration
	// bug is what known reported: a known herald bug that keeps the
	// deliveries from settling.
	bug string
}

// faultSettle waits (bounded) until every accepted delivery has reached the
// receiver and the environment has nothing pending or sending left, then
// reads the whole delivery log once and counts. It does not stop at the
// first problem: the counts are the report. known, when not nil, looks for
// the signature of a known bug (in herald's logs); once it reports one the
// wait is cut short and the caller decides.
func faultSettle(t *testing.T, e *env, tally *faultTally, accepted map[string]bool, known func() string) faultOutcome {
	t.Helper()
	var o faultOutcome
	start := time.Now()
	deadline := start.Add(2 * stateTimeout)
	last := ""
	for i := 0; time.Now().Before(deadline); i++ {
		got := tally.covers(accepted)
		last = fmt.Sprintf("%d of %d accepted deliveries received", got, len(accepted))
		if got == len(accepted) {
			pending, _ := e.listDeliveries(t, "status=pending&limit=1")
			sending, _ := e.listDeliveries(t, "status=sending&limit=1")
			if len(pending) == 0 && len(sending) == 0 {
				o.settled = true
				break
			}
			last += fmt.Sprintf("; still pending: %v, sending: %v", len(pending) > 0, len(sending) > 0)
		}
		if known != nil && o.bug == "" && i%10 == 0 {
			if o.bug = known(); o.bug != "" {
				// Give herald a few leases' time to get past it anyway.
				if cut := time.Now().Add(3 * crashLease); cut.Before(deadline) {
					deadline = cut
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	o.settleIn = time.Since(start)
	if !o.settled && o.bug == "" {
		t.Errorf("herald did not settle within %s: %s", 2*stateTimeout, last)
	}
	if o.settled {
		o.bug = ""
	}
	o.accepted = len(accepted)
	inLog := map[string]bool{}
	for _, d := range e.allDeliveries(t, "limit=200") {
		inLog[d.ID] = true
		if !accepted[d.ID] {
			o.orphans++
			continue
		}
		if d.Status != "succeeded" {
			o.notDone++
			if o.notDone <= 3 {
				t.Logf("not succeeded: %s", &d)
			}
		}
	}
	tally.mu.Lock()
	defer tally.mu.Unlock()
	for id := range accepted {
		if !inLog[id] {
			o.notDone++
		}
		switch n := tally.seen[id]; {
		case n == 0:
			o.lost++
		case n > 1:
			o.duplicates++
			o.extra += n - 1
		}
	}
	for id := range tally.seen {
		if !accepted[id] {
			o.unexpected++
		}
	}
	return o
}

// check fails the test for what at-least-once forbids; duplicates are
// allowed and only reported.
func (o faultOutcome) check(t *testing.T) {
	t.Helper()
	if o.lost != 0 {
		t.Errorf("%d accepted deliveries never arrived (lost)", o.lost)
	}
	if o.notDone != 0 && o.bug == "" {
		t.Errorf("%d accepted deliveries are not succeeded at the end", o.notDone)
	}
	if o.orphans != 0 || o.unexpected != 0 {
		t.Errorf("%d deliveries in the log and %d received were never acknowledged: a batch resent with its Idempotency-Key was stored twice",
			o.orphans, o.unexpected)
	}
}

// faultCounts is a copy of a producer's counts.
type faultCounts struct {
	requests, transport, noRetry, resent, unaccepted int
	status5xx                                        map[int]int
	last5xx                                          string
}

func (p *faultProducer) counts() faultCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := faultCounts{requests: p.requests, transport: p.transport, noRetry: p.noRetry, resent: p.resent,
		unaccepted: len(p.unaccepted), status5xx: map[int]int{}, last5xx: p.last5xxText}
	for k, v := range p.status5xx {
		c.status5xx[k] = v
	}
	return c
}

func (c faultCounts) total5xx() int {
	n := 0
	for _, v := range c.status5xx {
		n += v
	}
	return n
}

// fmt5xx writes 5xx counts as "N×STATUS,…".
func fmt5xx(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for code, n := range m {
		parts = append(parts, fmt.Sprintf("%d×%d", n, code))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// ---------------------------------------------------------------------------
// kill -9 in a loop.

// TestFaultKillLoop posts 10,000 deliveries in batches of 100 with
// Idempotency-Keys while herald is killed with SIGKILL at random moments
// and restarted on the same database (on PostgreSQL: one of two processes,
// alternately). Every accepted delivery must arrive; duplicates are
// counted, not failed (at least once).
func TestFaultKillLoop(t *testing.T) { forEachStore(t, testFaultKillLoop) }

func testFaultKillLoop(t *testing.T) {
	t.Parallel()
	const (
		batches, per = 100, 100
		kills        = 6
	)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0x4b11))
	t.Logf("kill schedule seed %d", seed)

	opts := heraldOpts{Lease: crashLease}
	n := 1
	if storeOf(t) == "postgres" {
		opts.DB = pgtest.DSN(t)
		n = 2
	}
	first := startHerald(t, opts)
	procs := &faultProcs{hs: []*herald{first}}
	for i := 1; i < n; i++ {
		procs.hs = append(procs.hs, startHerald(t, first.opts))
	}

	tally := newFaultTally()
	rc := newReceiver(t, func(r received) reply {
		tally.add(r)
		return reply{}
	})
	e := newEnv(t, first)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	p := newFaultProducer(t, procs, e.key, "kill-loop", per, time.Now().Add(2*stateTimeout))
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		p.run(0, batches, 4)
	}()

	// The kills: a random pause (the fault injection, not a wait), kill -9,
	// restart on the same database.
	// restartMax: kill to the new process listening; recoverMax: kill to
	// the next 202 (from any process), for kills during ingest.
	var restartMax, recoverMax time.Duration
	killsDuringIngest := 0
	var atKill []string
	for k := range kills {
		select {
		case <-time.After(time.Duration(100+rng.IntN(700)) * time.Millisecond):
		case <-produced: // keep killing at random moments: the backlog is still being delivered
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		}
		select {
		case <-produced:
		default:
			killsDuringIngest++
		}
		if d, ok := p.recovered(); ok {
			recoverMax = max(recoverMax, d)
		}
		slot := k % n
		victim := procs.get(slot)
		p.watch(time.Now())
		victim.Kill()
		atKill = append(atKill, strconv.Itoa(rc.Count()))
		start := time.Now()
		restarted := victim.Restart(t)
		restartMax = max(restartMax, time.Since(start))
		procs.set(slot, restarted)
	}
	<-produced
	if d, ok := p.recovered(); ok {
		recoverMax = max(recoverMax, d)
	}
	t.Logf("receiver counts at each kill: %s", strings.Join(atKill, ", "))

	e.base = procs.get(0).URL
	accepted := p.acceptedIDs()
	c := p.counts()
	if len(accepted) != batches*per && c.unaccepted == 0 {
		t.Errorf("%d distinct deliveries accepted for %d events", len(accepted), batches*per)
	}
	o := faultSettle(t, e, tally, accepted, nil)
	t.Logf("fault: store=%s kills=%d kills_during_ingest=%d deliveries=%d lost=%d duplicates=%d extra_requests=%d 5xx=%d (%s) transport_errors=%d resent_batches=%d requests=%d restart_max=%s recover_max=%s",
		storeOf(t), kills, killsDuringIngest, o.accepted, o.lost, o.duplicates, o.extra, c.total5xx(), fmt5xx(c.status5xx), c.transport, c.resent, c.requests,
		restartMax.Round(time.Millisecond), recoverMax.Round(time.Millisecond))
	o.check(t)
	if killsDuringIngest == 0 {
		t.Logf("note: every kill came after the last batch was accepted")
	}
}

// ---------------------------------------------------------------------------
// The database goes away.

// TestFaultDatabaseDown stops PostgreSQL while deliveries are in flight
// and producers are posting, then starts it again: while it is down every
// post is answered 503 with Retry-After (never 500, never a hang); nothing
// accepted is lost; the time from the database being back to the first
// 202 is reported. It runs alone (pgtest.Exclusive).
func TestFaultDatabaseDown(t *testing.T) {
	dsn := pgtest.Exclusive(t)
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		if pgtest.Required() {
			t.Fatal("pg_ctlcluster not found: cannot stop PostgreSQL")
		}
		t.Skip("pg_ctlcluster not found: cannot stop PostgreSQL here")
	}
	down := false
	t.Cleanup(func() {
		if down {
			pgCluster(t, "start")
		}
	})
	// Two processes with the short lease of crash tests: an attempt whose
	// outcome could not be written while the database was down is made
	// again once its lease ends.
	var hs []*herald
	for range 2 {
		hs = append(hs, startHerald(t, heraldOpts{DB: dsn, Lease: crashLease}))
	}
	procs := &faultProcs{hs: hs}

	// The receiver holds every request until the database is stopped, so
	// that attempts are in flight when it goes away and their outcomes
	// cannot be written.
	stopped := make(chan struct{})
	tally := newFaultTally()
	rc := newReceiver(t, func(r received) reply {
		tally.add(r)
		select {
		case <-stopped:
		case <-time.After(stateTimeout):
		}
		return reply{Delay: 2 * time.Millisecond}
	})
	e := newEnv(t, hs[0])
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	const per, before, total = 50, 10, 40
	p := newFaultProducer(t, procs, e.key, "db-down", per, time.Now().Add(2*stateTimeout))
	p.run(0, before, 2)
	if c := p.counts(); c.unaccepted > 0 || c.total5xx() > 0 || c.transport > 0 {
		t.Fatalf("with the database up: %d batches unaccepted, 5xx %s, transport errors %d", c.unaccepted, fmt5xx(c.status5xx), c.transport)
	}
	rc.waitFor(t, "deliveries in flight", func(r []received) bool { return len(r) > 0 })

	stopCmd := time.Now()
	pgCluster(t, "stop")
	down = true
	stoppedAt := time.Now()
	stopTook := stoppedAt.Sub(stopCmd)
	inFlight := rc.Count()
	close(stopped)

	// Producers keep posting while it is down; their batches are resent
	// with the same key until accepted.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		p.run(before, total, 2)
	}()
	// The outage lasts a random 3–4 s (the fault injection, not a wait):
	// longer than the 3 s lease, so that the leases of the deliveries in
	// flight end while it is down and cannot be renewed.
	outage := crashLease + time.Duration(rand.IntN(1000))*time.Millisecond
	waitFor(t, stateTimeout, "producers to be refused with 503 while the database is down", func() (bool, string) {
		c := p.counts()
		return c.total5xx() >= 10 && time.Since(stoppedAt) >= outage, fmt.Sprintf("5xx %s, transport errors %d", fmt5xx(c.status5xx), c.transport)
	})
	var readyDown []int
	for i := range procs.len() {
		r, err := procs.get(i).Anon().try("GET", "/readyz", nil)
		if err != nil {
			t.Errorf("GET /readyz with the database down: %v", err)
			continue
		}
		readyDown = append(readyDown, r.Status)
		if r.Status != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz with the database down: %s; want 503", r)
		}
	}
	downFor := time.Since(stoppedAt)
	refusedWhileDown := p.counts().total5xx()

	// The recovery is timed from the start command: it includes
	// PostgreSQL's own start-up.
	p.watch(time.Now())
	startCmd := time.Now()
	pgCluster(t, "start")
	down = false
	startTook := time.Since(startCmd)
	<-produced

	recoverIn, ok := p.recovered()
	if !ok {
		t.Errorf("no batch was accepted after the database came back")
	}
	// A known bug of the working tree: see the Skip below.
	known := func() string {
		for i := range procs.len() {
			if line := faultLogLine(procs.get(i), "cannot affect row a second time"); line != "" {
				return line
			}
		}
		return ""
	}
	o := faultSettle(t, e, tally, p.acceptedIDs(), known)
	c := p.counts()
	t.Logf("fault: store=postgres database_down=%s in_flight_at_stop=%d deliveries=%d lost=%d duplicates=%d extra_requests=%d 5xx=%d (%s) refused_while_down=%d 503_without_retry_after=%d transport_errors=%d resent_batches=%d readyz_down=%v pg_stop=%s pg_start=%s recover=%s settle=%s",
		downFor.Round(time.Millisecond), inFlight, o.accepted, o.lost, o.duplicates, o.extra, c.total5xx(), fmt5xx(c.status5xx),
		refusedWhileDown, c.noRetry, c.transport, c.resent, readyDown, stopTook.Round(time.Millisecond), startTook.Round(time.Millisecond),
		recoverIn.Round(time.Millisecond), o.settleIn.Round(time.Millisecond))
	o.check(t)
	for code, n := range c.status5xx {
		if code != http.StatusServiceUnavailable {
			t.Errorf("producers got %d answers %d (want only 503 while the database is down); last: %s", n, code, c.last5xx)
		}
	}
	if c.noRetry > 0 {
		t.Errorf("%d answers 503 without Retry-After", c.noRetry)
	}
	if c.transport > 0 {
		t.Errorf("%d producer requests got no HTTP answer while the database was down (the processes were never killed)", c.transport)
	}
	if o.accepted != total*per {
		t.Errorf("%d deliveries accepted, want %d", o.accepted, total*per)
	}
	if o.bug != "" {
		t.Errorf("after an outage longer than the lease, %d accepted deliveries (all received: lost=%d, duplicates=%d) stay 'sending' "+
			"for good; herald logged: %s. The leases ended while the database was down, so the deliveries were claimed again under a new "+
			"lease generation and attempted again (same attempt number) while the first outcome was still queued. "+
			"internal/store/postgres/queue.go RecordAttempts (working tree): held keeps only the current generation, but ins and the "+
			"UPDATE join u to held USING (id) alone, so the stale outcome rides along and one INSERT … ON CONFLICT (delivery_id, number) "+
			"DO UPDATE holds the same key twice, which PostgreSQL refuses for the whole batch (SQLSTATE 21000). "+
			"internal/dispatch/results.go writeResults retries that batch forever (a permanent error), so no later outcome of the "+
			"process is written and the leases it holds are renewed",
			o.notDone, o.lost, o.duplicates, o.bug)
	}
}

// faultLogLine returns the last line of h's stderr that contains s, or "".
func faultLogLine(h *herald, s string) string {
	logs := h.stderr.String()
	i := strings.LastIndex(logs, s)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(logs[:i], "\n") + 1
	end := strings.Index(logs[i:], "\n")
	if end < 0 {
		return logs[start:]
	}
	line := logs[start : i+end]
	if len(line) > 400 {
		line = line[:400] + "…"
	}
	return line
}
