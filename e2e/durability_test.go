package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func syncEvent(i int) string {
	return fmt.Sprintf(`{"type":"sync","connectionId":"conn-%d","providerConfigKey":"p","syncName":"s","model":"M",`+
		`"syncType":"INCREMENTAL","success":true,"responseResults":{"added":%d,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`, i, i+1)
}

// waitAllSucceeded polls the delivery log until every id in want is
// succeeded, and fails if any is failed or skipped, or if the log holds
// deliveries that were never accepted.
func waitAllSucceeded(t *testing.T, e *env, want map[string]bool) {
	t.Helper()
	waitFor(t, stateTimeout, fmt.Sprintf("all %d accepted deliveries to succeed", len(want)), func() (bool, string) {
		all := e.allDeliveries(t, "limit=200")
		byStatus := map[string]int{}
		for _, d := range all {
			byStatus[d.Status]++
			if !want[d.ID] {
				t.Fatalf("the log holds delivery %s that no 202 returned", d.ID)
			}
			if d.Status == "failed" || d.Status == "skipped" {
				t.Fatalf("%s: an accepted delivery must end succeeded here", &d)
			}
		}
		return len(all) == len(want) && byStatus["succeeded"] == len(want),
			fmt.Sprintf("%d deliveries in the log (of %d accepted), by status %v", len(all), len(want), byStatus)
	})
}

func TestCrashRecovery(t *testing.T) { forEachStore(t, testCrashRecovery) }

func testCrashRecovery(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{Lease: crashLease})

	// The receiver holds every request until all events are accepted, then
	// answers each after ~20 ms; the 100th arrival triggers kill -9.
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	const killAt = 100
	killNow := make(chan struct{})
	rc := newReceiver(t, func(r received) reply {
		select {
		case <-release:
		case <-time.After(2 * stateTimeout):
		}
		if r.N == killAt {
			close(killNow)
		}
		return reply{Delay: 20 * time.Millisecond}
	})
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	const batches, perBatch = 10, 50
	accepted := map[string]bool{}
	for b := 0; b < batches; b++ {
		events := make([]string, perBatch)
		for i := range events {
			events[i] = syncEvent(b*perBatch + i)
		}
		for _, a := range e.postBatch(t, events) {
			if len(a.Deliveries) != 1 {
				t.Fatalf("event %s: %d deliveries, want 1", a.ID, len(a.Deliveries))
			}
			accepted[a.Deliveries[0].ID] = true
		}
	}
	if len(accepted) != batches*perBatch {
		t.Fatalf("%d distinct delivery ids accepted, want %d", len(accepted), batches*perBatch)
	}

	// A second environment has a delivery waiting for its retry when the
	// process dies; the retry must survive the crash.
	retryRC := newReceiver(t, statusSequence(500, 200))
	re := newEnv(t, h)
	re.patch(t, map[string]any{"primary_url": retryRC.URL("/retry"), "retry": map[string]any{"schedule_ms": []int{1500}}})
	retryID := re.post(t, asyncEvent).Deliveries[0].ID
	waitFor(t, stateTimeout, "the first attempt to be recorded", func() (bool, string) {
		d := re.delivery(t, retryID)
		return d.Attempts == 1, d.String()
	})
	releaseOnce()

	select {
	case <-killNow:
	case <-time.After(stateTimeout):
		t.Fatalf("the receiver saw only %d requests in %s", rc.Count(), stateTimeout)
	}
	h.Kill()
	atKill := rc.Count()
	retryPendingAtKill := len(retryRC.Requests()) == 1
	distinctAtKill := map[string]bool{}
	for _, r := range rc.Requests() {
		distinctAtKill[r.Header.Get("X-Herald-Delivery-Id")] = true
	}
	t.Logf("kill -9 after the receiver saw %d requests (%d distinct deliveries) of %d", atKill, len(distinctAtKill), len(accepted))
	if len(distinctAtKill) >= len(accepted) {
		t.Errorf("every delivery had arrived before the kill; the crash interrupted nothing")
	}

	h2 := h.Restart(t)
	e.base = h2.URL // same environment and key, new process
	waitAllSucceeded(t, e, accepted)
	re.base = h2.URL
	d := re.waitDelivery(t, retryID, "succeeded", "failed")
	if d.Status != "succeeded" || fmt.Sprint(codes(d.AttemptLog)) != "[500 200]" {
		t.Errorf("retried delivery after the crash: %s, attempt codes %v; want succeeded after [500 200]", d, codes(d.AttemptLog))
	}
	t.Logf("the retry was still pending at the kill: %v", retryPendingAtKill)

	// Every accepted delivery arrived at least once; count the repeats.
	seen := map[string]int{}
	for _, r := range rc.Requests() {
		id := r.Header.Get("X-Herald-Delivery-Id")
		if !accepted[id] {
			t.Errorf("received delivery id %q that no 202 returned", id)
		}
		seen[id]++
	}
	var missing []string
	duplicates, extra := 0, 0
	for id := range accepted {
		switch n := seen[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			duplicates++
			extra += n - 1
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d accepted deliveries never arrived (lost), e.g. %s", len(missing), strings.Join(missing[:min(5, len(missing))], ", "))
	}
	t.Logf("crash recovery: %d deliveries, %d requests in all, %d deliveries received more than once (%d extra requests; at-least-once allows this)",
		len(accepted), rc.Count(), duplicates, extra)
	for _, status := range []string{"failed", "pending", "sending", "skipped"} {
		if ds, _ := e.listDeliveries(t, "status="+status); len(ds) != 0 {
			t.Errorf("%d deliveries are %s after recovery, want 0", len(ds), status)
		}
	}
}

func TestGracefulShutdown(t *testing.T) { forEachStore(t, testGracefulShutdown) }

func testGracefulShutdown(t *testing.T) {
	t.Parallel()

	// Attempts in flight finish; queued ones and one accepted just before
	// SIGTERM are kept and delivered after a restart.
	t.Run("in_flight_and_queued", func(t *testing.T) {
		t.Parallel()
		h := startHerald(t, heraldOpts{})
		rc := newReceiver(t, func(received) reply { return reply{Delay: 300 * time.Millisecond} })
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
		accepted := map[string]bool{}
		events := make([]string, 40)
		for i := range events {
			events[i] = syncEvent(i)
		}
		for _, a := range e.postBatch(t, events) {
			accepted[a.Deliveries[0].ID] = true
		}
		rc.waitFor(t, "a first webhook to be in flight", func(r []received) bool { return len(r) > 0 })
		last := e.post(t, asyncEvent)
		accepted[last.Deliveries[0].ID] = true

		if code := h.Stop(); code != 0 {
			t.Fatalf("herald exited with status %d after SIGTERM, want 0", code)
		}
		h2 := h.Restart(t)
		e.base = h2.URL
		waitAllSucceeded(t, e, accepted)
		for id := range accepted {
			if len(rc.For(id)) == 0 {
				t.Errorf("delivery %s is succeeded but never arrived", id)
			}
		}
	})

	t.Run("sigint", func(t *testing.T) {
		t.Parallel()
		h := startHerald(t, heraldOpts{})
		newEnv(t, h)
		if err := h.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case <-h.done:
		case <-time.After(stopTimeout):
			t.Fatalf("herald did not exit within %s of SIGINT", stopTimeout)
		}
		if code := h.exitCode(); code != 0 {
			t.Errorf("exit status %d after SIGINT, want 0", code)
		}
	})

	// An attempt that does not finish within the shutdown grace (shortened
	// here to 500 ms) is released,
	// and herald still exits 0 within 30 s; the delivery is made after a
	// restart.
	t.Run("hanging_attempt_released", func(t *testing.T) {
		t.Parallel()
		h := startHerald(t, heraldOpts{ShutdownGrace: 500 * time.Millisecond})
		rc := newReceiver(t, func(r received) reply {
			if r.N == 1 {
				return reply{Hang: true}
			}
			return reply{}
		})
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "timeout_ms": 60000})
		a := e.post(t, asyncEvent)
		id := a.Deliveries[0].ID
		rc.waitDeliveryRequests(t, id, 1)
		if code := h.Stop(); code != 0 {
			t.Fatalf("herald exited with status %d after SIGTERM, want 0", code)
		}
		h2 := h.Restart(t)
		e.base = h2.URL
		d := e.waitDelivery(t, id, "succeeded", "failed")
		if d.Status != "succeeded" {
			t.Fatalf("%s, want succeeded after the restart", d)
		}
		if n := len(rc.For(id)); n != 2 {
			t.Errorf("delivery arrived %d times, want 2 (the cut attempt, then the one after restart)", n)
		}
	})
}

// kill -9 while producers are posting: every event that got its 202 is
// delivered after the restart; requests cut by the kill may or may not have
// been stored, but whatever was stored is delivered too.
func TestCrashDuringIngest(t *testing.T) { forEachStore(t, testCrashDuringIngest) }

func testCrashDuringIngest(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{Lease: crashLease})
	rc := newReceiver(t, nil)
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				events := make([]string, 5)
				for j := range events {
					events[j] = syncEvent(i*5 + j)
				}
				r, err := e.try("POST", "/events/batch", `{"events":[`+strings.Join(events, ",")+`]}`)
				if err != nil {
					return // the process is gone
				}
				if r.Status != http.StatusAccepted {
					t.Errorf("%s", r)
					return
				}
				var out struct {
					Results []accepted `json:"results"`
				}
				if err := json.Unmarshal(r.Body, &out); err != nil {
					t.Errorf("%s: %v", r, err)
					return
				}
				mu.Lock()
				for _, a := range out.Results {
					for _, d := range a.Deliveries {
						acked[d.ID] = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	waitFor(t, stateTimeout, "200 acknowledged deliveries", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200, fmt.Sprintf("%d acknowledged", len(acked))
	})
	h.Kill()
	wg.Wait()
	t.Logf("kill -9 with %d deliveries acknowledged, %d received", len(acked), rc.Count())

	h2 := h.Restart(t)
	e.base = h2.URL
	var all []delivery
	waitFor(t, stateTimeout, "every stored delivery to succeed", func() (bool, string) {
		all = e.allDeliveries(t, "limit=200")
		done := 0
		for _, d := range all {
			if d.Status == "failed" || d.Status == "skipped" {
				t.Fatalf("%s, want succeeded", &d)
			}
			if d.Status == "succeeded" {
				done++
			}
		}
		return done == len(all), fmt.Sprintf("%d of %d succeeded", done, len(all))
	})
	stored := map[string]bool{}
	for _, d := range all {
		stored[d.ID] = true
	}
	for id := range acked {
		if !stored[id] {
			t.Errorf("delivery %s was acknowledged with 202 but is not in the log after the crash", id)
		} else if len(rc.For(id)) == 0 {
			t.Errorf("delivery %s was acknowledged with 202 but never arrived", id)
		}
	}
	t.Logf("after restart: %d deliveries stored (%d acknowledged before the kill)", len(all), len(acked))
}

// Many producers at once: every accepted delivery arrives, once.
func TestConcurrentProducers(t *testing.T) { forEachStore(t, testConcurrentProducers) }

func testConcurrentProducers(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	primary, secondary := newReceiver(t, nil), newReceiver(t, nil)
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": primary.URL("/p"), "secondary_url": secondary.URL("/s")})
	var mu sync.Mutex
	want := map[string]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			add := func(as ...accepted) {
				mu.Lock()
				defer mu.Unlock()
				for _, a := range as {
					if len(a.Deliveries) != 2 {
						t.Errorf("event %s: %d deliveries", a.ID, len(a.Deliveries))
					}
					for _, d := range a.Deliveries {
						want[d.ID] = true
					}
				}
			}
			for i := 0; i < 10; i++ {
				r, err := e.try("POST", "/events", syncEvent(g*100+i))
				if err != nil || r.Status != http.StatusAccepted {
					t.Errorf("POST /events: %v %v", err, r)
					return
				}
				var a accepted
				json.Unmarshal(r.Body, &a)
				add(a)
			}
			for b := 0; b < 2; b++ {
				events := make([]string, 10)
				for j := range events {
					events[j] = syncEvent(g*100 + 50 + b*10 + j)
				}
				r, err := e.try("POST", "/events/batch", `{"events":[`+strings.Join(events, ",")+`]}`)
				if err != nil || r.Status != http.StatusAccepted {
					t.Errorf("POST /events/batch: %v %v", err, r)
					return
				}
				var out struct {
					Results []accepted `json:"results"`
				}
				json.Unmarshal(r.Body, &out)
				add(out.Results...)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if len(want) != 8*30*2 {
		t.Fatalf("%d distinct deliveries accepted, want %d", len(want), 8*30*2)
	}
	waitAllSucceeded(t, e, want)
	for id := range want {
		if n := len(primary.For(id)) + len(secondary.For(id)); n != 1 {
			t.Errorf("delivery %s arrived %d times, want once (no failure happened)", id, n)
		}
	}
}
