package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/api"
)

// upload is a request written by hand on its own connection, so that a
// test can stop in the middle of its body.
type upload struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	rest string
}

// startUpload writes the request line and headers of a POST of body with
// its Content-Length. With expectContinue it asks for 100 Continue and
// waits for it: the server sends it when the handler starts reading the
// body. It then writes the first sent bytes of the body and stops.
func startUpload(t *testing.T, f *fixture, path, key, body string, sent int, expectContinue bool) *upload {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Every read and write below is bounded: a server that never answers
	// fails the test instead of hanging it.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	u := &upload{t: t, conn: conn, br: bufio.NewReader(conn), rest: body[sent:]}
	hdr := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n",
		path, key, len(body))
	if expectContinue {
		hdr += "Expect: 100-continue\r\n"
	}
	if _, err := io.WriteString(conn, hdr+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if expectContinue {
		resp := u.response()
		if resp.status != http.StatusContinue {
			t.Fatalf("got %d before the body, want 100 Continue; body %s", resp.status, resp.body)
		}
	}
	if _, err := io.WriteString(conn, body[:sent]); err != nil {
		t.Fatal(err)
	}
	return u
}

// finish writes the rest of the body.
func (u *upload) finish() {
	u.t.Helper()
	if _, err := io.WriteString(u.conn, u.rest); err != nil {
		u.t.Fatal(err)
	}
}

// response reads the next response on the connection.
func (u *upload) response() response {
	resp, err := http.ReadResponse(u.br, nil)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// forwardOfSize is a forward event of exactly n bytes (n ≥ 100).
func forwardOfSize(n int) string {
	const head, tail = `{"type":"forward","connectionId":"c1","providerConfigKey":"p","payload":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// batchOfSize is a batch of one forward event, padded with whitespace to
// exactly n bytes.
func batchOfSize(n int) string {
	b := `{"events":[` + forwardOfSize(n/2) + `]}`
	return b + strings.Repeat(" ", n-len(b))
}

// TestSlowBatchUploadsDoNotBlockOtherTenants: as many batch uploads as
// there are parse slots, stalled in the middle of their bodies, do not
// hold those slots: a batch from another environment is answered at once.
func TestSlowBatchUploadsDoNotBlockOtherTenants(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	slow := f.newEnv(t, "slow", map[string]any{"primary_url": rc.URL("/slow")})
	other := f.newEnv(t, "other", map[string]any{"primary_url": rc.URL("/other")})
	body := batchOfSize(256 << 10)
	var stalled []*upload
	for range api.ConcurrentBatches {
		// 100 Continue proves the handler is reading this body; the
		// upload then stalls with half of it sent.
		stalled = append(stalled, startUpload(t, f, "/events/batch", slow.SecretKey, body, len(body)/2, true))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", f.url+"/events/batch", strings.NewReader(`{"events":[`+forwardEvent+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+other.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a batch of another environment, while %d uploads stall: %v", len(stalled), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", resp.StatusCode)
	}

	// The stalled uploads complete normally once their bodies arrive.
	for i, u := range stalled {
		u.finish()
		if r := u.response(); r.status != http.StatusAccepted {
			t.Fatalf("stalled upload %d: status %d, want 202; body %s", i, r.status, r.body)
		}
	}
}

// TestBodyBudget: request bodies draw on one budget. With a 2 MiB budget,
// two 1 MiB bodies held open take all of it: two more are answered 503
// with Retry-After at once, and so is any other body (chunked, batch,
// settings, admin), while a request without a body is served. Once the held ones
// finish, the budget is whole again: a body of exactly 2 MiB is accepted,
// and one larger than the whole budget is 413.
func TestBodyBudget(t *testing.T) {
	const budget = 2 << 20
	f := newFixture(t, options{bodyBudget: budget})
	rc := newReceiver(t)
	env := f.newEnv(t, "prod", map[string]any{"primary_url": rc.URL("/hook")})
	body := forwardOfSize(api.MaxEventBody)

	ups := make([]*upload, 4)
	answers := make(chan int, len(ups)) // index of each upload answered
	resps := make([]response, len(ups))
	for i := range ups {
		ups[i] = startUpload(t, f, "/events", env.SecretKey, body, 64<<10, false)
	}
	for i, u := range ups {
		go func() {
			resps[i] = u.response()
			answers <- i
		}()
	}
	var refused []int
	for range 2 {
		select {
		case i := <-answers:
			refused = append(refused, i)
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of 4 held uploads were answered, want 2 refused", len(refused))
		}
	}
	for _, i := range refused {
		r := resps[i]
		checkError(t, r, http.StatusServiceUnavailable, "unavailable", "try again")
		if ra := r.header.Get("Retry-After"); ra != "1" {
			t.Errorf("upload %d: Retry-After %q, want 1", i, ra)
		}
	}
	// The budget is spent: every body draws on it, chunked or not, on
	// every route; a request without a body still gets through.
	for _, c := range []struct {
		name, method, path, key string
		body                    any
	}{
		{"chunked_event", "POST", "/events", env.SecretKey, chunked(forwardEvent)},
		{"batch", "POST", "/events/batch", env.SecretKey, `{"events":[` + forwardEvent + `]}`},
		{"settings", "PATCH", "/environment/webhook", env.SecretKey, `{"retry":{"max_retries":1}}`},
		{"admin", "POST", "/admin/environments", adminKey, `{"name":"another"}`},
	} {
		r := f.do(t, c.method, c.path, c.key, c.body)
		checkError(t, r, http.StatusServiceUnavailable, "unavailable")
		if ra := r.header.Get("Retry-After"); ra != "1" {
			t.Errorf("%s: Retry-After %q, want 1", c.name, ra)
		}
	}
	f.do(t, "GET", "/environment", env.SecretKey, nil).want(t, http.StatusOK)

	// The two that got room complete.
	for i, u := range ups {
		if i == refused[0] || i == refused[1] {
			continue
		}
		u.finish()
		if got := <-answers; resps[got].status != http.StatusAccepted {
			t.Fatalf("held upload %d: status %d, want 202; body %s", got, resps[got].status, resps[got].body)
		}
	}

	// Whole again: exactly the budget fits, a chunked body too; more than
	// the whole budget never can.
	f.do(t, "POST", "/events/batch", env.SecretKey, batchOfSize(budget)).want(t, http.StatusAccepted)
	f.do(t, "POST", "/events/batch", env.SecretKey, chunked(batchOfSize(budget))).want(t, http.StatusAccepted)
	checkError(t, f.do(t, "POST", "/events/batch", env.SecretKey, batchOfSize(budget+1)), http.StatusRequestEntityTooLarge, "payload_too_large")
	checkError(t, f.do(t, "POST", "/events/batch", env.SecretKey, chunked(batchOfSize(budget+1))), http.StatusRequestEntityTooLarge, "payload_too_large")
	f.do(t, "POST", "/events", env.SecretKey, forwardEvent).want(t, http.StatusAccepted)
	f.do(t, "POST", "/admin/environments", adminKey, `{"name":"another"}`).want(t, http.StatusCreated)
}
