package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultServer is a loopback HTTP server with a handler of its own, for
// misbehaviours the harness's receiver cannot express (resets, trickles,
// endless bodies). closing is closed when the test ends, before the server
// closes, so that handlers still running return.
type faultServer struct {
	srv      *httptest.Server
	closing  chan struct{}
	requests atomic.Int64
}

func newFaultServer(t *testing.T, handler func(fs *faultServer, w http.ResponseWriter, r *http.Request)) *faultServer {
	t.Helper()
	fs := &faultServer{closing: make(chan struct{})}
	fs.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.requests.Add(1)
		handler(fs, w, r)
	}))
	fs.srv.Config.ErrorLog = nil
	fs.srv.Start()
	if u, _ := url.Parse(fs.srv.URL); u.Hostname() != "127.0.0.1" {
		fs.srv.Close()
		t.Fatalf("receiver listens on %s; these tests need 127.0.0.1", fs.srv.URL)
	}
	t.Cleanup(func() {
		close(fs.closing)
		fs.srv.CloseClientConnections()
		fs.srv.Close()
	})
	return fs
}

func (fs *faultServer) URL(path string) string { return fs.srv.URL + path }

// sleepOrDone waits d unless the request or the server ends first.
func (fs *faultServer) sleepOrDone(r *http.Request, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
	case <-fs.closing:
	}
	return false
}

// TestFaultReceivers points environments at receivers that misbehave —
// connection resets, stalls, trickled bodies, redirects, endless bodies —
// next to a healthy receiver and a blocker that holds its URL's whole lane.
// The healthy receiver gets every delivery while the others misbehave
// (isolation); every misbehaving delivery ends failed within its retry
// policy, with an error or a status code logged for each attempt.
func TestFaultReceivers(t *testing.T) { forEachStore(t, testFaultReceivers) }

func testFaultReceivers(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	const (
		perKind  = 3   // events per misbehaving receiver
		healthyN = 100 // events to the healthy receiver
		blockedN = 40  // events to the blocker: more than a lane holds (32)
		hugeSize = 50 << 20
		trickleN = 600 // bytes, one per 100 ms: a minute, far beyond the 3 s timeout
	)

	// reset: hijack the connection and close it with a TCP RST.
	reset := newFaultServer(t, func(fs *faultServer, w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
	})

	// stall: never answers (herald's 3 s timeout ends each attempt).
	stall := newReceiver(t, func(received) reply { return reply{Hang: true} })

	// trickle: the status line at once, then the body one byte per 100 ms.
	trickle := func(status int) *faultServer {
		return newFaultServer(t, func(fs *faultServer, w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(status)
			rc.Flush()
			for range trickleN {
				if !fs.sleepOrDone(r, 100*time.Millisecond) {
					return
				}
				if _, err := w.Write([]byte{'.'}); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
		})
	}
	trickle500, trickle200 := trickle(http.StatusInternalServerError), trickle(http.StatusOK)

	// redirect: 302 to another loopback path, which must never be asked.
	var movedTo atomic.Pointer[string]
	redirect := newReceiver(t, func(r received) reply {
		if r.Path == "/moved" {
			return reply{}
		}
		return reply{Status: http.StatusFound, Header: map[string]string{"Location": *movedTo.Load()}}
	})
	moved := redirect.URL("/moved")
	movedTo.Store(&moved)

	// huge: 500 with a 50 MiB body, streamed; it records how much it could
	// write before herald closed the connection.
	var hugeMu sync.Mutex
	var hugeWritten []int64
	huge := newFaultServer(t, func(fs *faultServer, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(hugeSize))
		w.WriteHeader(http.StatusInternalServerError)
		chunk := []byte(strings.Repeat("0123456789abcdef", 2048)) // 32 KiB
		var n int64
		defer func() {
			hugeMu.Lock()
			hugeWritten = append(hugeWritten, n)
			hugeMu.Unlock()
		}()
		for n < hugeSize {
			select {
			case <-fs.closing:
				return
			default:
			}
			m, err := w.Write(chunk[:min(len(chunk), int(hugeSize-n))])
			n += int64(m)
			if err != nil {
				return
			}
		}
	})

	// blocker: holds every request until released, then answers 500. Its
	// environment's timeout is 60 s, so its lane stays full meanwhile.
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	var held atomic.Int64
	blocker := newReceiver(t, func(received) reply {
		held.Add(1)
		defer held.Add(-1)
		select {
		case <-release:
		case <-time.After(2 * stateTimeout):
		}
		return reply{Status: http.StatusInternalServerError, Body: "released"}
	})

	healthyTally := newFaultTally()
	healthy := newReceiver(t, func(r received) reply {
		healthyTally.add(r)
		return reply{Body: "ok"}
	})

	short := func(u string) map[string]any {
		return map[string]any{"primary_url": u, "timeout_ms": 3000, "retry": map[string]any{"schedule_ms": []int{50}}}
	}
	type kind struct {
		name string
		url  string
		env  *env
		ids  []string
	}
	kinds := []*kind{
		{name: "reset", url: reset.URL("/hook")},
		{name: "stall", url: stall.URL("/hook")},
		{name: "trickle_500", url: trickle500.URL("/hook")},
		{name: "trickle_200", url: trickle200.URL("/hook")},
		{name: "redirect", url: redirect.URL("/hook")},
		{name: "huge", url: huge.URL("/hook")},
	}
	for _, k := range kinds {
		k.env = newEnv(t, h)
		k.env.patch(t, short(k.url))
	}
	blockEnv := newEnv(t, h)
	blockEnv.patch(t, map[string]any{"primary_url": blocker.URL("/hook"), "timeout_ms": 60000,
		"retry": map[string]any{"schedule_ms": []int{50}}})
	healthyEnv := newEnv(t, h)
	healthyEnv.patch(t, map[string]any{"primary_url": healthy.URL("/hook")})

	events := func(from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = syncEvent(from + i)
		}
		return out
	}
	var blockedIDs []string
	for _, a := range blockEnv.postBatch(t, events(0, blockedN)) {
		blockedIDs = append(blockedIDs, a.Deliveries[0].ID)
	}
	waitFor(t, stateTimeout, "the blocker to hold requests", func() (bool, string) {
		return held.Load() > 0, fmt.Sprintf("%d held", held.Load())
	})
	for i, k := range kinds {
		for _, a := range k.env.postBatch(t, events(1000*(i+1), perKind)) {
			k.ids = append(k.ids, a.Deliveries[0].ID)
		}
	}
	healthyIDs := map[string]bool{}
	for _, a := range healthyEnv.postBatch(t, events(10000, healthyN)) {
		healthyIDs[a.Deliveries[0].ID] = true
	}

	// Isolation: the healthy receiver gets every delivery while the
	// blocker still holds its lane and the others misbehave. The bound is
	// a deadlock detector, shorter than the blocker's 60 s timeout.
	postedHealthy := time.Now()
	waitFor(t, 30*time.Second, "the healthy receiver to get every delivery while the blocker holds its lane", func() (bool, string) {
		got := healthyTally.covers(healthyIDs)
		return got == len(healthyIDs), fmt.Sprintf("%d of %d, blocker holds %d", got, len(healthyIDs), held.Load())
	})
	healthyIn := time.Since(postedHealthy)
	heldDuring := held.Load()
	if heldDuring == 0 {
		t.Errorf("the blocker held nothing when the healthy deliveries were done; isolation was not exercised")
	}
	waitFor(t, stateTimeout, "every healthy delivery to be succeeded", func() (bool, string) {
		ds, _ := healthyEnv.listDeliveries(t, "status=succeeded&limit=200")
		return len(ds) == healthyN, fmt.Sprintf("%d of %d succeeded", len(ds), healthyN)
	})
	releaseOnce()

	// Every misbehaving delivery reaches a final state within its policy
	// (two attempts), with an error or a status code for each attempt.
	checkAttempts := func(t *testing.T, d *delivery) {
		t.Helper()
		if d.Status != "failed" {
			t.Errorf("%s; want failed", d)
		}
		if d.Attempts != 2 || len(d.AttemptLog) != 2 {
			t.Errorf("%s: %d attempts logged; want 2 (one retry: schedule_ms [50])", d, len(d.AttemptLog))
		}
		for _, a := range d.AttemptLog {
			if a.StatusCode == nil && (a.Error == nil || strings.TrimSpace(*a.Error) == "") {
				t.Errorf("delivery %s attempt %d: neither a status code nor an error logged", d.ID, a.Number)
			}
			if a.ResponseBody != nil && len(*a.ResponseBody) > 4096 {
				t.Errorf("delivery %s attempt %d: response_body of %d bytes, want at most 4096", d.ID, a.Number, len(*a.ResponseBody))
			}
		}
	}
	summary := map[string]string{}
	final := func(t *testing.T, k *kind) []*delivery {
		t.Helper()
		var out []*delivery
		for _, id := range k.ids {
			out = append(out, k.env.waitDelivery(t, id, "succeeded", "failed", "skipped"))
		}
		statuses := map[string]int{}
		for _, d := range out {
			statuses[d.Status]++
		}
		var parts []string
		for _, st := range []string{"failed", "succeeded", "skipped"} {
			if statuses[st] > 0 {
				parts = append(parts, fmt.Sprintf("%s:%d", st, statuses[st]))
			}
		}
		summary[k.name] = strings.Join(parts, ",")
		return out
	}
	byName := map[string]*kind{}
	for _, k := range kinds {
		byName[k.name] = k
	}

	t.Run("reset", func(t *testing.T) {
		for _, d := range final(t, byName["reset"]) {
			checkAttempts(t, d)
			for _, a := range d.AttemptLog {
				if a.StatusCode != nil || a.Error == nil {
					t.Errorf("delivery %s attempt %d: status %v error %v; want a connection error and no status", d.ID, a.Number, a.StatusCode, a.Error)
				}
			}
		}
	})
	t.Run("stall", func(t *testing.T) {
		for _, d := range final(t, byName["stall"]) {
			checkAttempts(t, d)
			for _, a := range d.AttemptLog {
				if a.StatusCode != nil || a.Error == nil || !strings.Contains(*a.Error, "timed out") {
					t.Errorf("delivery %s attempt %d: status %v error %q; want a timeout", d.ID, a.Number, a.StatusCode, faultDeref(a.Error))
				}
			}
		}
	})
	t.Run("trickle_500", func(t *testing.T) {
		for _, d := range final(t, byName["trickle_500"]) {
			checkAttempts(t, d)
		}
	})
	t.Run("trickle_200", func(t *testing.T) {
		// A 200 whose body is still trickling when timeout_ms runs out did
		// not finish in time (docs/webhooks.md: the timeout covers
		// receiving the response): a failure, retried.
		ds := final(t, byName["trickle_200"])
		for _, d := range ds {
			if d.Status == "succeeded" {
				t.Errorf("a 200 whose body trickles past timeout_ms is recorded as succeeded after one attempt (%s, response_body %q). "+
					"internal/dispatch/attempt.go, Dispatcher.attempt: the body read (io.ReadAll of io.LimitReader(resp.Body, maxResponseBody)) "+
					"fails with the attempt's deadline, and decide() still returns StatusSucceeded for the 2xx; docs/webhooks.md (Timeout) and "+
					"docs/settings.md (timeout_ms) say the timeout covers receiving the response and an attempt that runs out of time is a failure, retried",
					d, faultDeref(d.AttemptLog[0].ResponseBody))
			}
			checkAttempts(t, d)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		for _, d := range final(t, byName["redirect"]) {
			checkAttempts(t, d)
			for _, a := range d.AttemptLog {
				if a.StatusCode == nil || *a.StatusCode != http.StatusFound || a.Error == nil || !strings.Contains(*a.Error, "redirect") {
					t.Errorf("delivery %s attempt %d: status %v error %q; want 302 and \"redirect (302) not followed\"", d.ID, a.Number, a.StatusCode, faultDeref(a.Error))
				}
			}
		}
		for _, r := range redirect.Requests() {
			if r.Path != "/hook" {
				t.Errorf("herald followed the redirect to %s", r.Path)
			}
		}
	})
	t.Run("huge", func(t *testing.T) {
		for _, d := range final(t, byName["huge"]) {
			checkAttempts(t, d)
			for _, a := range d.AttemptLog {
				if a.ResponseBody == nil || len(*a.ResponseBody) == 0 {
					t.Errorf("delivery %s attempt %d: no response_body kept; want the first 4 KiB", d.ID, a.Number)
				}
			}
		}
		// herald closes the connection after its 4 KiB (and a little
		// drain): the receiver cannot have written the whole 50 MiB.
		waitFor(t, stateTimeout, "every huge answer to end", func() (bool, string) {
			hugeMu.Lock()
			defer hugeMu.Unlock()
			return len(hugeWritten) >= int(huge.requests.Load()), fmt.Sprintf("%d of %d ended", len(hugeWritten), huge.requests.Load())
		})
		hugeMu.Lock()
		defer hugeMu.Unlock()
		for _, n := range hugeWritten {
			if n >= hugeSize {
				t.Errorf("the receiver wrote its whole %d-byte body: herald read it all", n)
			}
		}
	})
	t.Run("blocker", func(t *testing.T) {
		for _, id := range blockedIDs {
			d := blockEnv.waitDelivery(t, id, "succeeded", "failed", "skipped")
			checkAttempts(t, d)
		}
	})

	hugeMu.Lock()
	hugeMax := int64(0)
	for _, n := range hugeWritten {
		hugeMax = max(hugeMax, n)
	}
	hugeMu.Unlock()
	t.Logf("fault receivers: store=%s healthy=%d/%d healthy_in=%s blocker_held=%d reset=%s stall=%s trickle_500=%s trickle_200=%s redirect=%s huge=%s huge_max_written=%d requests(reset=%d stall=%d trickle_500=%d trickle_200=%d redirect=%d huge=%d blocker=%d)",
		storeOf(t), healthyTally.covers(healthyIDs), healthyN, healthyIn.Round(time.Millisecond), heldDuring,
		summary["reset"], summary["stall"], summary["trickle_500"], summary["trickle_200"], summary["redirect"], summary["huge"], hugeMax,
		reset.requests.Load(), stall.Count(), trickle500.requests.Load(), trickle200.requests.Load(), redirect.Count(), huge.requests.Load(), blocker.Count())
}

func faultDeref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
