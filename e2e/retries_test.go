package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"syscall"
	"testing"
	"time"
)

const retryEvent = `{"type":"async_action","connectionId":"c-retry","providerConfigKey":"p","payload":{"id":"r1","statusUrl":"/action/r1"}}`

// codes lists the status codes of an attempt log (0 for none).
func codes(log []attempt) []int {
	out := make([]int, len(log))
	for i, a := range log {
		if a.StatusCode != nil {
			out[i] = *a.StatusCode
		}
	}
	return out
}

// checkAttemptHeaders asserts that the requests of one delivery are its
// attempts 1, 2, … with identical, correctly signed bodies.
func checkAttemptHeaders(t *testing.T, reqs []received, e *env, eventID, deliveryID string) {
	t.Helper()
	for i, r := range reqs {
		if string(r.Body) != string(reqs[0].Body) {
			t.Errorf("attempt %d body differs from attempt 1", i+1)
		}
		checkWebhook(t, r, e.SigningKey, string(reqs[0].Body), eventID, deliveryID, i+1)
	}
}

func TestRetries(t *testing.T) { forEachStore(t, testRetries) }

func testRetries(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})

	// (a) The default policy (docs/retries.md): 2 retries, 100 ms then 200 ms.
	t.Run("default_policy_500_500_200", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, statusSequence(500, 500, 200))
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
		a := e.post(t, retryEvent)
		id := a.Deliveries[0].ID
		d := e.waitDelivery(t, id, "succeeded", "failed")
		if d.Status != "succeeded" {
			t.Fatalf("%s, want succeeded", d)
		}
		reqs := rc.For(id)
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d attempts, want exactly 3", len(reqs))
		}
		checkAttemptHeaders(t, reqs, e, a.ID, id)
		if gap := reqs[1].At.Sub(reqs[0].At); gap < 100*time.Millisecond {
			t.Errorf("first retry %v after the first attempt, want ≥ 100ms", gap)
		}
		if gap := reqs[2].At.Sub(reqs[1].At); gap < 200*time.Millisecond {
			t.Errorf("second retry %v after the first retry, want ≥ 200ms", gap)
		}
		if got := codes(d.AttemptLog); fmt.Sprint(got) != "[500 500 200]" {
			t.Errorf("attempt_log status codes %v, want [500 500 200]", got)
		}
		for i, at := range d.AttemptLog {
			if at.Number != i+1 {
				t.Errorf("attempt_log[%d].number = %d", i, at.Number)
			}
			if want := fmt.Sprintf("answer %d", i+1); at.ResponseBody == nil || *at.ResponseBody != want {
				t.Errorf("attempt_log[%d].response_body = %v, want %q", i, deref(at.ResponseBody), want)
			}
		}
		if d.Attempts != 3 || d.LastStatusCode == nil || *d.LastStatusCode != 200 {
			t.Errorf("%s, want attempts 3 and last_status_code 200", d)
		}
	})

	// (b) Retries exhausted.
	t.Run("500_forever", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, statusSequence(500))
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
		a := e.post(t, retryEvent)
		id := a.Deliveries[0].ID
		d := e.waitDelivery(t, id, "succeeded", "failed")
		if d.Status != "failed" {
			t.Fatalf("%s, want failed", d)
		}
		// Failed is final: the 3rd attempt was the last one made.
		reqs := rc.For(id)
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d attempts, want exactly 3 (1 + 2 retries)", len(reqs))
		}
		checkAttemptHeaders(t, reqs, e, a.ID, id)
		d = e.delivery(t, id)
		if d.Status != "failed" || d.Attempts != 3 || d.NextAttemptAt != nil {
			t.Errorf("%s next_attempt_at=%v, want failed after 3 attempts with no next attempt", d, deref(d.NextAttemptAt))
		}
		if got := codes(d.AttemptLog); fmt.Sprint(got) != "[500 500 500]" {
			t.Errorf("attempt_log status codes %v, want [500 500 500]", got)
		}
	})

	// (c) Redirects are failures and are not followed.
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprintf("redirect_%d_not_followed", code), func(t *testing.T) {
			t.Parallel()
			var rc *receiver
			rc = newReceiver(t, func(r received) reply {
				if r.Path == "/hook" {
					return reply{Status: code, Header: map[string]string{"Location": rc.URL("/elsewhere")}}
				}
				return reply{}
			})
			e := newEnv(t, h)
			e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "retry": map[string]any{"schedule_ms": []int{20}}})
			a := e.post(t, retryEvent)
			id := a.Deliveries[0].ID
			d := e.waitDelivery(t, id, "succeeded", "failed")
			if d.Status != "failed" {
				t.Fatalf("%s, want failed: a %d is not a success", d, code)
			}
			if got := codes(d.AttemptLog); fmt.Sprint(got) != fmt.Sprint([]int{code, code}) {
				t.Errorf("attempt_log status codes %v, want [%d %d]", got, code, code)
			}
			// Failed is final, and a followed redirect would have been
			// requested within an attempt, before its outcome was written.
			for _, r := range rc.Requests() {
				if r.Path != "/hook" {
					t.Errorf("the redirect was followed: %s %s arrived", r.Method, r.Path)
				}
			}
			if n := len(rc.For(id)); n != 2 {
				t.Errorf("%d requests to /hook, want 2 (1 + 1 retry)", n)
			}
		})
	}

	// (d) A hanging receiver is cut at timeout_ms.
	t.Run("timeout_cuts_attempt", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, func(received) reply { return reply{Hang: true} })
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "timeout_ms": 1000, "retry": map[string]any{"max_retries": 0}})
		a := e.post(t, retryEvent)
		id := a.Deliveries[0].ID
		d := e.waitDelivery(t, id, "succeeded", "failed")
		if d.Status != "failed" {
			t.Fatalf("%s, want failed", d)
		}
		if len(d.AttemptLog) != 1 {
			t.Fatalf("attempt_log has %d entries, want 1", len(d.AttemptLog))
		}
		at := d.AttemptLog[0]
		if at.StatusCode != nil {
			t.Errorf("attempt status_code %d, want null (no answer)", *at.StatusCode)
		}
		if at.Error == nil || !regexp.MustCompile(`(?i)time[sd]?[ -]?out`).MatchString(*at.Error) {
			t.Errorf("attempt error %q, want it to say the attempt timed out", deref(at.Error))
		}
		if at.DurationMS < 1000 {
			t.Errorf("attempt duration_ms %d, want ≥ 1000 (the configured timeout)", at.DurationMS)
		}
		if n := len(rc.For(id)); n != 1 {
			t.Errorf("receiver got %d requests, want 1", n)
		}
	})

	// (e) An explicit schedule.
	t.Run("schedule_ms", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, statusSequence(500, 500, 200))
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "retry": map[string]any{"schedule_ms": []int{50, 50}}})
		a := e.post(t, retryEvent)
		id := a.Deliveries[0].ID
		d := e.waitDelivery(t, id, "succeeded", "failed")
		if d.Status != "succeeded" {
			t.Fatalf("%s, want succeeded", d)
		}
		reqs := rc.For(id)
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d attempts, want 3", len(reqs))
		}
		checkAttemptHeaders(t, reqs, e, a.ID, id)
		for i := 1; i < 3; i++ {
			if gap := reqs[i].At.Sub(reqs[i-1].At); gap < 50*time.Millisecond {
				t.Errorf("retry %d came %v after the previous attempt, want ≥ 50ms", i, gap)
			}
		}
		if got := codes(d.AttemptLog); fmt.Sprint(got) != "[500 500 200]" {
			t.Errorf("attempt_log status codes %v, want [500 500 200]", got)
		}
	})

	// (f) Retry-After on 503 and 429 is honoured, in seconds or as a date.
	for _, c := range []struct {
		code int
		date bool
	}{{http.StatusServiceUnavailable, false}, {http.StatusTooManyRequests, false}, {http.StatusServiceUnavailable, true}} {
		code := c.code
		name := fmt.Sprintf("retry_after_%d", code)
		if c.date {
			name += "_http_date"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(r received) reply {
				if r.N == 1 {
					ra := "1"
					if c.date {
						// Whole seconds: at least 1 s from now.
						ra = time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
					}
					return reply{Status: code, Header: map[string]string{"Retry-After": ra}}
				}
				return reply{}
			})
			e := newEnv(t, h)
			e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
			a := e.post(t, retryEvent)
			id := a.Deliveries[0].ID
			d := e.waitDelivery(t, id, "succeeded", "failed")
			if d.Status != "succeeded" {
				t.Fatalf("%s, want succeeded", d)
			}
			reqs := rc.For(id)
			if len(reqs) != 2 {
				t.Fatalf("receiver got %d attempts, want 2", len(reqs))
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
				t.Errorf("retry came %v after a %d with Retry-After: 1, want ≥ 1s", gap, code)
			}
		})
	}

	// Any 2xx is a success; a 4xx is a failure like any other.
	for _, code := range []int{200, 201, 202, 204, 299} {
		t.Run(fmt.Sprintf("success_%d", code), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, statusSequence(code))
			e := newEnv(t, h)
			e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
			d := e.waitDelivery(t, e.post(t, retryEvent).Deliveries[0].ID, "succeeded", "failed")
			if d.Status != "succeeded" || d.Attempts != 1 {
				t.Errorf("%s, want succeeded after 1 attempt", d)
			}
		})
	}
	for _, code := range []int{400, 404, 422} {
		t.Run(fmt.Sprintf("failure_%d_retried", code), func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, statusSequence(code, 200))
			e := newEnv(t, h)
			e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "retry": map[string]any{"schedule_ms": []int{10}}})
			d := e.waitDelivery(t, e.post(t, retryEvent).Deliveries[0].ID, "succeeded", "failed")
			if d.Status != "succeeded" || fmt.Sprint(codes(d.AttemptLog)) != fmt.Sprint([]int{code, 200}) {
				t.Errorf("%s attempt codes %v, want succeeded after [%d 200]", d, codes(d.AttemptLog), code)
			}
		})
	}

	// 410 Gone is a failure that disables the endpoint at once (SPEC §13):
	// the retry is held, not made, until the endpoint is enabled again.
	t.Run("failure_410_disables_the_endpoint", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, statusSequence(410, 200))
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "retry": map[string]any{"schedule_ms": []int{10}}})
		id := e.post(t, retryEvent).Deliveries[0].ID
		d := e.waitDelivery(t, id, "held", "succeeded", "failed")
		if d.Status != "held" || fmt.Sprint(codes(d.AttemptLog)) != "[410]" {
			t.Fatalf("%s attempt codes %v, want held after [410]", d, codes(d.AttemptLog))
		}
		var page struct {
			Data []struct {
				ID, URL, State string
				DisabledReason *string `json:"disabled_reason"`
			} `json:"data"`
		}
		r := e.do(t, "GET", "/endpoints", nil)
		r.want(t, http.StatusOK)
		r.decode(t, &page)
		if len(page.Data) != 1 || page.Data[0].State != "disabled" || page.Data[0].DisabledReason == nil || *page.Data[0].DisabledReason != "gone" {
			t.Fatalf("GET /endpoints = %+v, want the URL disabled as gone", page.Data)
		}
		e.do(t, "POST", "/endpoints/"+page.Data[0].ID+"/enable", nil).want(t, http.StatusOK)
		d = e.waitDelivery(t, id, "succeeded", "failed")
		if d.Status != "succeeded" || fmt.Sprint(codes(d.AttemptLog)) != "[410 200]" {
			t.Errorf("%s attempt codes %v, want succeeded after [410 200] once enabled", d, codes(d.AttemptLog))
		}
	})

	// A network error (nothing listening) is a failure that is retried.
	t.Run("connection_refused", func(t *testing.T) {
		t.Parallel()
		dead := "http://" + refusingAddr(t) + "/hook"
		e := newEnv(t, h)
		e.patch(t, map[string]any{"primary_url": dead, "retry": map[string]any{"schedule_ms": []int{10, 10}}})
		a := e.post(t, retryEvent)
		d := e.waitDelivery(t, a.Deliveries[0].ID, "succeeded", "failed")
		if d.Status != "failed" || len(d.AttemptLog) != 3 {
			t.Fatalf("%s with %d logged attempts, want failed after 3", d, len(d.AttemptLog))
		}
		for i, at := range d.AttemptLog {
			if at.StatusCode != nil || at.Error == nil || *at.Error == "" {
				t.Errorf("attempt_log[%d]: status %v error %q, want no status and an error", i, at.StatusCode, deref(at.Error))
			}
		}
		if d.LastError == nil || *d.LastError == "" {
			t.Errorf("%s: want last_error set", d)
		}
	})
}

func TestIndependence(t *testing.T) { forEachStore(t, testIndependence) }

func testIndependence(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	hang := newReceiver(t, func(received) reply { return reply{Hang: true} })
	healthy := newReceiver(t, nil)
	other := newReceiver(t, nil)

	e := newEnv(t, h)
	// The primary's attempts hang for longer than the test runs, however
	// loaded the machine: it must still be waiting at every check below.
	e.patch(t, map[string]any{"primary_url": hang.URL("/slow"), "secondary_url": healthy.URL("/fast"), "timeout_ms": 60000})
	const n = 20
	var primaries, secondaries []string
	for i := 0; i < n; i++ {
		a := e.post(t, fmt.Sprintf(`{"type":"sync","connectionId":"c%d","providerConfigKey":"p","syncName":"s","model":"M",`+
			`"syncType":"INCREMENTAL","success":true,"responseResults":{"added":1,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`, i))
		if len(a.Deliveries) != 2 {
			t.Fatalf("event %d: %d deliveries, want 2", i, len(a.Deliveries))
		}
		primaries = append(primaries, a.Deliveries[0].ID)
		secondaries = append(secondaries, a.Deliveries[1].ID)
	}
	hang.waitFor(t, "the hanging primary to receive a request", func(r []received) bool { return len(r) > 0 })

	stillHanging := func(when string) {
		t.Helper()
		for _, id := range primaries {
			if d := e.delivery(t, id); d.Status != "pending" && d.Status != "sending" {
				t.Fatalf("%s: primary %s, want pending or sending (its receiver hangs)", when, d)
			}
		}
	}
	for _, id := range secondaries {
		if d := e.waitDelivery(t, id, "succeeded", "failed"); d.Status != "succeeded" {
			t.Fatalf("secondary %s, want succeeded", d)
		}
	}
	stillHanging("after all secondaries succeeded")
	for _, id := range secondaries {
		if len(healthy.For(id)) != 1 {
			t.Errorf("secondary %s received %d times, want once", id, len(healthy.For(id)))
		}
	}

	// Another environment with a healthy URL is not held up either.
	e2 := newEnv(t, h)
	e2.patch(t, map[string]any{"primary_url": other.URL("/other")})
	var others []string
	for i := 0; i < 5; i++ {
		others = append(others, e2.post(t, asyncEvent).Deliveries[0].ID)
	}
	for _, id := range others {
		if d := e2.waitDelivery(t, id, "succeeded", "failed"); d.Status != "succeeded" {
			t.Fatalf("other environment: %s, want succeeded", d)
		}
	}
	stillHanging("after the other environment's deliveries succeeded")
}

// refusingAddr returns a loopback address where connections are refused:
// a socket bound to a port but not listening, held until the test ends, so
// that no other test's listener can take the port meanwhile.
func refusingAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
