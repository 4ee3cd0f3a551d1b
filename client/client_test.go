package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/internal/testkit"
	"github.com/heraldhq/herald/nango"
)

// reply is one scripted answer of a fake herald; close drops the
// connection instead of answering.
type reply struct {
	status     int
	retryAfter string
	body       string
	close      bool
}

// scripted is a loopback server that answers its requests with replies in
// turn (the last one again once they run out) and records them.
type scripted struct {
	srv     *httptest.Server
	mu      sync.Mutex
	replies []reply
	reqs    []*http.Request
	bodies  []string
}

func newScripted(t *testing.T, replies ...reply) *scripted {
	t.Helper()
	s := &scripted{replies: replies}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, r)
		s.bodies = append(s.bodies, string(b))
		rp := s.replies[min(n, len(s.replies)-1)]
		s.mu.Unlock()
		if rp.close {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if rp.retryAfter != "" {
			w.Header().Set("Retry-After", rp.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rp.status)
		io.WriteString(w, rp.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

const (
	accepted    = `{"id":"e1","type":"sync","deliveries":[{"id":"d1","url":"https://app.example.com/h"}],"skipped":null}`
	unavailable = `{"error":{"code":"unavailable","message":"the database is unavailable; nothing was stored, try again"}}`
	tooMany     = `{"error":{"code":"too_many_requests","message":"slow down"}}`
)

// recordingClient is a Client of s whose waits are recorded, not slept.
func recordingClient(s *scripted, opts ...Option) (*Client, *[]time.Duration) {
	c := New(s.srv.URL, "key", opts...)
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	c.jitterOff = true
	return c, &waits
}

func TestRetries(t *testing.T) {
	date := time.Now().Add(4 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		replies   []reply
		opts      []Option
		idemKey   string
		wantReqs  int
		wantWaits []time.Duration // nil: check only that there is one wait per retry
		wantCode  string          // "": success
		wantRA    time.Duration
	}{
		{name: "503 with Retry-After seconds, then 202",
			replies:  []reply{{status: 503, retryAfter: "1", body: unavailable}, {status: 202, body: accepted}},
			wantReqs: 2, wantWaits: []time.Duration{time.Second}},
		{name: "429 with Retry-After seconds, then 202",
			replies:  []reply{{status: 429, retryAfter: "2", body: tooMany}, {status: 202, body: accepted}},
			wantReqs: 2, wantWaits: []time.Duration{2 * time.Second}},
		{name: "503 with an HTTP-date Retry-After, then 202",
			replies:  []reply{{status: 503, retryAfter: date, body: unavailable}, {status: 202, body: accepted}},
			wantReqs: 2},
		{name: "503 without Retry-After backs off",
			replies:  []reply{{status: 503, body: unavailable}, {status: 503, body: unavailable}, {status: 202, body: accepted}},
			wantReqs: 3, wantWaits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}},
		{name: "503 every time: 3 attempts, then the error",
			replies:  []reply{{status: 503, retryAfter: "1", body: unavailable}},
			wantReqs: 3, wantWaits: []time.Duration{time.Second, time.Second}, wantCode: CodeUnavailable, wantRA: time.Second},
		{name: "attempts raised",
			replies:  []reply{{status: 503, retryAfter: "1", body: unavailable}},
			opts:     []Option{WithRetry(5, 0)},
			wantReqs: 5, wantWaits: []time.Duration{time.Second, time.Second, time.Second, time.Second}, wantCode: CodeUnavailable, wantRA: time.Second},
		{name: "retries off",
			replies:  []reply{{status: 503, retryAfter: "1", body: unavailable}, {status: 202, body: accepted}},
			opts:     []Option{WithRetry(1, 0)},
			wantReqs: 1, wantWaits: []time.Duration{}, wantCode: CodeUnavailable, wantRA: time.Second},
		{name: "Retry-After beyond the cap is not waited for",
			replies:  []reply{{status: 429, retryAfter: "60", body: tooMany}, {status: 202, body: accepted}},
			wantReqs: 1, wantWaits: []time.Duration{}, wantCode: CodeTooManyRequests, wantRA: time.Minute},
		{name: "the cap bounds the backoff",
			replies:  []reply{{status: 503, body: unavailable}},
			opts:     []Option{WithRetry(4, 300*time.Millisecond)},
			wantReqs: 4, wantWaits: []time.Duration{250 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}, wantCode: CodeUnavailable},
		{name: "400 is final",
			replies:  []reply{{status: 400, body: `{"error":{"code":"invalid_body","message":"model: required"}}`}, {status: 202, body: accepted}},
			wantReqs: 1, wantWaits: []time.Duration{}, wantCode: CodeInvalidBody},
		{name: "500 is final",
			replies:  []reply{{status: 500, body: `{"error":{"code":"server_error","message":"internal error"}}`}, {status: 202, body: accepted}},
			wantReqs: 1, wantWaits: []time.Duration{}, wantCode: CodeServerError},
		{name: "network error without an Idempotency-Key is not repeated",
			replies:  []reply{{close: true}, {status: 202, body: accepted}},
			wantReqs: 1, wantWaits: []time.Duration{}, wantCode: "network"},
		{name: "network error with an Idempotency-Key is repeated",
			replies: []reply{{close: true}, {status: 202, body: accepted}}, idemKey: "k1",
			wantReqs: 2, wantWaits: []time.Duration{250 * time.Millisecond}},
		{name: "network errors with an Idempotency-Key: 3 attempts",
			replies: []reply{{close: true}}, idemKey: "k1",
			wantReqs: 3, wantWaits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, wantCode: "network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, tt.replies...)
			c, waits := recordingClient(s, tt.opts...)
			var opts *SendOptions
			if tt.idemKey != "" {
				opts = &SendOptions{IdempotencyKey: tt.idemKey}
			}
			res, err := c.SendEventJSON(t.Context(), json.RawMessage(`{"type":"sync"}`), opts)
			if got := s.count(); got != tt.wantReqs {
				t.Errorf("requests = %d, want %d", got, tt.wantReqs)
			}
			if tt.wantWaits != nil && !reflect.DeepEqual(*waits, tt.wantWaits) && !(len(*waits) == 0 && len(tt.wantWaits) == 0) {
				t.Errorf("waits = %v, want %v", *waits, tt.wantWaits)
			}
			if tt.wantWaits == nil {
				if len(*waits) != tt.wantReqs-1 {
					t.Errorf("waits = %v, want %d", *waits, tt.wantReqs-1)
				}
				for _, w := range *waits {
					if w < 2*time.Second || w > 4*time.Second {
						t.Errorf("wait %v for a Retry-After 4 s ahead", w)
					}
				}
			}
			for i, body := range s.bodies {
				if body != `{"type":"sync"}` {
					t.Errorf("attempt %d sent %q", i+1, body)
				}
				if got := s.reqs[i].Header.Get("Idempotency-Key"); got != tt.idemKey {
					t.Errorf("attempt %d Idempotency-Key %q", i+1, got)
				}
			}
			switch tt.wantCode {
			case "":
				if err != nil {
					t.Fatal(err)
				}
				if res.ID != "e1" || len(res.Deliveries) != 1 || res.Skipped != "" {
					t.Errorf("result %+v", res)
				}
			case "network":
				var herr *Error
				if err == nil || errors.As(err, &herr) {
					t.Fatalf("err = %v, want a network error", err)
				}
			default:
				var herr *Error
				if !errors.As(err, &herr) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if herr.Code != tt.wantCode || herr.RetryAfter != tt.wantRA {
					t.Errorf("err = %+v, want code %s, RetryAfter %v", herr, tt.wantCode, tt.wantRA)
				}
			}
		})
	}
}

// A GET is repeated after a network error; a PATCH and a POST without
// an Idempotency-Key are not.
func TestNetworkErrorRetriesIdempotentOnly(t *testing.T) {
	tests := []struct {
		name     string
		call     func(c *Client) error
		wantReqs int
	}{
		{"GET /events", func(c *Client) error { _, err := c.ListEvents(t.Context(), nil); return err }, 2},
		{"GET /environment", func(c *Client) error { _, err := c.GetSettings(t.Context()); return err }, 2},
		{"PATCH /environment/webhook", func(c *Client) error {
			_, err := c.PatchSettings(t.Context(), SettingsPatch{TimeoutMS: new(5000)})
			return err
		}, 1},
		{"POST /deliveries/{id}/retry", func(c *Client) error { _, err := c.RetryDelivery(t.Context(), "d1"); return err }, 1},
		{"POST /events/batch", func(c *Client) error {
			_, err := c.SendBatchJSON(t.Context(), []json.RawMessage{json.RawMessage(`{}`)}, nil)
			return err
		}, 1},
		{"POST /events/batch with a key", func(c *Client) error {
			_, err := c.SendBatchJSON(t.Context(), []json.RawMessage{json.RawMessage(`{}`)}, &SendOptions{IdempotencyKey: "b"})
			return err
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, reply{close: true}, reply{status: 200, body: `{}`})
			c, _ := recordingClient(s)
			err := tt.call(c)
			if got := s.count(); got != tt.wantReqs {
				t.Errorf("requests = %d, want %d (err %v)", got, tt.wantReqs, err)
			}
			if (err == nil) != (tt.wantReqs == 2) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// The one test that really waits: herald's Retry-After: 1 holds the
// second attempt back at least a second.
func TestRetryAfterIsWaited(t *testing.T) {
	s := newScripted(t, reply{status: 503, retryAfter: "1", body: unavailable}, reply{status: 202, body: accepted})
	c := New(s.srv.URL, "key")
	start := time.Now()
	if _, err := c.SendEvent(t.Context(), &nango.AsyncActionWebhook{ConnectionID: "c1", ProviderConfigKey: "p",
		Payload: nango.AsyncActionResult{ID: "a1", StatusURL: "/action/a1"}}, nil); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("second attempt after %v, want at least the Retry-After of 1 s", elapsed)
	}
	if s.count() != 2 {
		t.Errorf("requests = %d, want 2", s.count())
	}
}

// A context ended while the Client waits ends the call with its error.
func TestRetryWaitHonoursContext(t *testing.T) {
	s := newScripted(t, reply{status: 503, retryAfter: "5", body: unavailable})
	c := New(s.srv.URL, "key")
	ctx, cancel := context.WithCancel(t.Context())
	go func() { // cancel once the first attempt is answered (t.Fatal is not for other goroutines)
		defer cancel()
		for deadline := time.Now().Add(10 * time.Second); s.count() == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := c.ListDeliveries(ctx, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if s.count() != 1 {
		t.Errorf("requests = %d, want 1", s.count())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 25, 19, 42, 49, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{"1.5", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), 0},
		{"Wednesday, 25-Mar-26 19:43:49 GMT", time.Minute}, // RFC 850, which HTTP dates allow
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply reply
		want  Error
		text  string
	}{
		{"herald's envelope", reply{status: 404, body: `{"error":{"code":"not_found","message":"no delivery with this id"}}`},
			Error{StatusCode: 404, Code: CodeNotFound, Message: "no delivery with this id"}, "herald: 404 not_found: no delivery with this id"},
		{"idempotency key reused", reply{status: 422, body: `{"error":{"code":"idempotency_key_reused","message":"Idempotency-Key was used with another body"}}`},
			Error{StatusCode: 422, Code: CodeIdempotencyKeyReused, Message: "Idempotency-Key was used with another body"}, ""},
		{"a proxy's page", reply{status: 502, body: "<html>bad gateway</html>"},
			Error{StatusCode: 502, Message: "Bad Gateway: <html>bad gateway</html>"}, "herald: 502: Bad Gateway: <html>bad gateway</html>"},
		{"no body", reply{status: 403},
			Error{StatusCode: 403, Message: "Forbidden"}, "herald: 403: Forbidden"},
		{"a long page is cut", reply{status: 502, body: strings.Repeat("é", 300)},
			Error{StatusCode: 502, Message: "Bad Gateway: " + strings.Repeat("é", 100) + "…"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, tt.reply)
			c, _ := recordingClient(s)
			_, err := c.GetEvent(t.Context(), "e1")
			var herr *Error
			if !errors.As(err, &herr) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if *herr != tt.want {
				t.Errorf("err = %+v, want %+v", *herr, tt.want)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.text)
			}
		})
	}
}

func TestClientErrorsBeforeSending(t *testing.T) {
	tests := []struct {
		name string
		call func(c *Client) error
		want string
	}{
		{"no scheme", func(c *Client) error { _, err := New("127.0.0.1:8080", "k").ListEvents(t.Context(), nil); return err }, "base URL"},
		{"empty id", func(c *Client) error { _, err := c.GetDelivery(t.Context(), ""); return err }, "id is empty"},
		{"nil webhook", func(c *Client) error { _, err := c.SendEvent(t.Context(), nil, nil); return err }, "no webhook"},
		{"invalid webhook", func(c *Client) error {
			_, err := c.SendEvent(t.Context(), &nango.SyncWebhook{ConnectionID: "c1"}, nil)
			return err
		}, "providerConfigKey"},
		{"invalid webhook in a batch", func(c *Client) error {
			_, err := c.SendBatch(t.Context(), []nango.Webhook{&nango.AsyncActionWebhook{}}, nil)
			return err
		}, "events[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, reply{status: 200, body: `{}`})
			c, _ := recordingClient(s)
			err := tt.call(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if s.count() != 0 {
				t.Errorf("%d requests sent", s.count())
			}
		})
	}
}

// Each method sends its route, query, headers and body as the SPEC has
// them.
func TestRequests(t *testing.T) {
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	until := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		call       func(c *Client) error
		method     string
		uri        string
		body       string
		idempotent string
	}{
		{"list deliveries", func(c *Client) error {
			_, err := c.ListDeliveries(t.Context(), &ListParams{Status: "failed", Type: "sync", ConnectionID: "c 1",
				ProviderConfigKey: "github", Since: since, Until: until, Limit: 20, Cursor: "cur"})
			return err
		}, "GET", "/deliveries?connection_id=c+1&cursor=cur&limit=20&provider_config_key=github&since=2026-02-28T23%3A00%3A00Z&status=failed&type=sync&until=2026-03-02T00%3A00%3A00Z", "", ""},
		{"list events, no filter", func(c *Client) error { _, err := c.ListEvents(t.Context(), nil); return err }, "GET", "/events", "", ""},
		{"get event", func(c *Client) error { _, err := c.GetEvent(t.Context(), "a/b"); return err }, "GET", "/events/a%2Fb", "", ""},
		{"get delivery", func(c *Client) error { _, err := c.GetDelivery(t.Context(), "d1"); return err }, "GET", "/deliveries/d1", "", ""},
		{"retry delivery", func(c *Client) error { _, err := c.RetryDelivery(t.Context(), "d1"); return err }, "POST", "/deliveries/d1/retry", "", ""},
		{"recover", func(c *Client) error { _, err := c.Recover(t.Context(), since, until); return err }, "POST", "/deliveries/recover",
			`{"since":"2026-02-28T23:00:00Z","until":"2026-03-02T00:00:00Z"}`, ""},
		{"replay one", func(c *Client) error { _, err := c.ReplayEvent(t.Context(), "e1"); return err }, "POST", "/events/e1/replay", "", ""},
		{"replay", func(c *Client) error {
			_, err := c.Replay(t.Context(), ReplayParams{Since: since, Until: until, Type: "auth", Status: "skipped"})
			return err
		}, "POST", "/events/replay", `{"since":"2026-02-28T23:00:00Z","status":"skipped","type":"auth","until":"2026-03-02T00:00:00Z"}`, ""},
		{"patch settings", func(c *Client) error {
			_, err := c.PatchSettings(t.Context(), SettingsPatch{PrimaryURL: new(""), OnSyncError: new(false),
				Retry: &RetryPolicy{MaxRetries: 5, InitialDelayMS: 1000, Multiplier: 3}})
			return err
		}, "PATCH", "/environment/webhook",
			`{"primary_url":"","on_sync_error":false,"retry":{"max_retries":5,"initial_delay_ms":1000,"multiplier":3,"max_delay_ms":0,"jitter":0}}`, ""},
		{"patch settings, empty schedule", func(c *Client) error {
			_, err := c.PatchSettings(t.Context(), SettingsPatch{Retry: &RetryPolicy{ScheduleMS: []int64{}}})
			return err
		}, "PATCH", "/environment/webhook", `{"retry":{"schedule_ms":[]}}`, ""},
		{"get settings", func(c *Client) error { _, err := c.GetSettings(t.Context()); return err }, "GET", "/environment", "", ""},
		{"create environment", func(c *Client) error { _, err := c.CreateEnvironment(t.Context(), "prod"); return err },
			"POST", "/admin/environments", `{"name":"prod"}`, ""},
		{"list environments", func(c *Client) error { _, err := c.ListEnvironments(t.Context()); return err }, "GET", "/admin/environments", "", ""},
		{"delete environment", func(c *Client) error { return c.DeleteEnvironment(t.Context(), "x") }, "DELETE", "/admin/environments/x", "", ""},
		{"send batch", func(c *Client) error {
			_, err := c.SendBatchJSON(t.Context(), []json.RawMessage{json.RawMessage(`{"type":"sync"}`), json.RawMessage(`{"type":"auth"}`)},
				&SendOptions{IdempotencyKey: "batch-1"})
			return err
		}, "POST", "/events/batch", `{"events":[{"type":"sync"},{"type":"auth"}]}`, "batch-1"},
		{"Do", func(c *Client) error {
			return c.Do(t.Context(), "PATCH", "/endpoints/ep1", map[string]int{"rate_limit_per_s": 5}, nil)
		}, "PATCH", "/endpoints/ep1", `{"rate_limit_per_s":5}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, reply{status: 200, body: `{}`})
			c := New(s.srv.URL+"/", "secret", WithUserAgent("test-agent/1"))
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			r := s.reqs[0]
			if r.Method != tt.method || r.URL.RequestURI() != tt.uri {
				t.Errorf("request %s %s, want %s %s", r.Method, r.URL.RequestURI(), tt.method, tt.uri)
			}
			if s.bodies[0] != tt.body {
				t.Errorf("body %s, want %s", s.bodies[0], tt.body)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer secret" {
				t.Errorf("Authorization %q", got)
			}
			if got := r.Header.Get("User-Agent"); got != "test-agent/1" {
				t.Errorf("User-Agent %q", got)
			}
			if got := r.Header.Get("Idempotency-Key"); got != tt.idempotent {
				t.Errorf("Idempotency-Key %q, want %q", got, tt.idempotent)
			}
			if wantCT := map[bool]string{true: "application/json", false: ""}[tt.body != ""]; r.Header.Get("Content-Type") != wantCT {
				t.Errorf("Content-Type %q, want %q", r.Header.Get("Content-Type"), wantCT)
			}
		})
	}
}

// testHerald is a real herald (internal/server.Run on a SQLite file) with
// one environment whose primary URL is a loopback receiver.
type testHerald struct {
	url, adminKey, key string
	receiver           *testkit.Receiver
}

func startTestHerald(t *testing.T) *testHerald {
	t.Helper()
	h := &testHerald{adminKey: "admin-key-for-client-tests", receiver: testkit.NewReceiver(t)}
	h.url = heraldtest.Run(t, h.adminKey)
	env, err := New(h.url, h.adminKey).CreateEnvironment(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	h.key = env.SecretKey
	if _, err := New(h.url, h.key).PatchSettings(t.Context(), SettingsPatch{PrimaryURL: new(h.receiver.URL("/hook"))}); err != nil {
		t.Fatal(err)
	}
	return h
}

func syncHook(conn string) *nango.SyncWebhook {
	return &nango.SyncWebhook{ConnectionID: conn, ProviderConfigKey: "github", SyncName: "issues", Model: "Issue",
		SyncType: nango.SyncTypeIncremental, Success: true, ResponseResults: &nango.ResponseResults{Added: 1},
		ModifiedAfter: "2026-03-25T19:42:49.717Z"}
}

// Pages of a real herald: cursors, filters and the iterators.
func TestPagination(t *testing.T) {
	h := startTestHerald(t)
	c := New(h.url, h.key)
	var sent []string // event ids, oldest first
	for i := range 5 {
		conn := "c" + strconv.Itoa(i%2) // c0, c1, c0, c1, c0
		res, err := c.SendEvent(t.Context(), syncHook(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, res.ID)
	}
	newestFirst := []string{sent[4], sent[3], sent[2], sent[1], sent[0]}

	t.Run("pages by hand", func(t *testing.T) {
		var got []string
		p := &ListParams{Limit: 2}
		var sizes []int
		for {
			page, err := c.ListEvents(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(page.Data))
			for _, e := range page.Data {
				got = append(got, e.ID)
			}
			if page.NextCursor == "" {
				break
			}
			p.Cursor = page.NextCursor
		}
		if !reflect.DeepEqual(sizes, []int{2, 2, 1}) || !reflect.DeepEqual(got, newestFirst) {
			t.Errorf("pages %v of %v, want [2 2 1] of %v", sizes, got, newestFirst)
		}
	})

	tests := []struct {
		name string
		p    *ListParams
		want []string
	}{
		{"all", nil, newestFirst},
		{"pages of one", &ListParams{Limit: 1}, newestFirst},
		{"a connection", &ListParams{ConnectionID: "c1", Limit: 1}, []string{sent[3], sent[1]}},
		{"from a cursor", &ListParams{Cursor: sent[3], Limit: 2}, []string{sent[2], sent[1], sent[0]}},
		{"nothing", &ListParams{Type: "auth"}, nil},
	}
	for _, tt := range tests {
		t.Run("AllEvents "+tt.name, func(t *testing.T) {
			var got []string
			for e, err := range c.AllEvents(t.Context(), tt.p) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
		t.Run("AllDeliveries "+tt.name, func(t *testing.T) {
			var got []string
			for d, err := range c.AllDeliveries(t.Context(), tt.p) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, d.EventID)
			}
			if tt.name == "from a cursor" {
				return // a delivery cursor is a delivery id
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("break stops fetching", func(t *testing.T) {
		n := 0
		for _, err := range c.AllDeliveries(t.Context(), &ListParams{Limit: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("n = %d", n)
		}
	})

	t.Run("an error ends the iteration", func(t *testing.T) {
		var errs []error
		for _, err := range c.AllEvents(t.Context(), &ListParams{Status: "bogus"}) {
			errs = append(errs, err)
		}
		var herr *Error
		if len(errs) != 1 || !errors.As(errs[0], &herr) || herr.Code != CodeInvalidQueryParams {
			t.Errorf("errors %v, want one invalid_query_params", errs)
		}
	})
}

// Every method against a real herald: the typed answers carry what the
// SPEC says.
func TestAgainstHerald(t *testing.T) {
	h := startTestHerald(t)
	ctx := t.Context()
	c := New(h.url, h.key)

	res, err := c.SendEvent(ctx, syncHook("c1"), &SendOptions{IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != "sync" || len(res.Deliveries) != 1 || res.Deliveries[0].URL != h.receiver.URL("/hook") {
		t.Fatalf("send: %+v", res)
	}
	// The same key with another body is refused.
	_, err = c.SendEvent(ctx, syncHook("c2"), &SendOptions{IdempotencyKey: "k1"})
	var herr *Error
	if !errors.As(err, &herr) || herr.StatusCode != 422 || herr.Code != CodeIdempotencyKeyReused {
		t.Fatalf("reused key: %v", err)
	}

	var d *DeliveryDetail
	testkit.WaitFor(t, "the delivery succeeded", func() bool {
		d, err = c.GetDelivery(ctx, res.Deliveries[0].ID)
		return err == nil && d.Status == "succeeded"
	})
	if d.EventID != res.ID || d.Attempts != 1 || len(d.AttemptLog) != 1 || *d.AttemptLog[0].StatusCode != 200 ||
		d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.NextAttemptAt != nil || d.CreatedAt.IsZero() {
		t.Errorf("delivery %+v", d)
	}
	if want, _ := syncHook("c1").Canonical(); string(d.Body) != string(want) {
		t.Errorf("body %s, want %s", d.Body, want)
	}
	if d.RequestHeaders["X-Nango-Hmac-Sha256"] == "" {
		t.Errorf("request headers %v", d.RequestHeaders)
	}

	ev, err := c.GetEvent(ctx, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != "succeeded" || ev.ConnectionID != "c1" || ev.ProviderConfigKey != "github" || len(ev.Deliveries) != 1 {
		t.Errorf("event %+v", ev)
	}

	if _, err := c.RetryDelivery(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the retry's webhook", func() bool { return len(h.receiver.Requests()) == 2 })

	n, err := c.ReplayEvent(ctx, res.ID)
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	testkit.WaitFor(t, "the replay's webhook", func() bool { return len(h.receiver.Requests()) == 3 })

	n, err = c.Recover(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("recover: %d, %v", n, err)
	}

	// A gated event is logged and skipped.
	skipped, err := c.SendEventJSON(ctx, json.RawMessage(`{"type":"auth","connectionId":"c1","providerConfigKey":"github",`+
		`"authMode":"OAUTH2","provider":"github","environment":"prod","operation":"deletion","success":true}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if skipped.Skipped == "" || len(skipped.Deliveries) != 0 {
		t.Errorf("skipped %+v", skipped)
	}

	s, err := c.GetSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "prod" || s.WebhookSettings.PrimaryURL != h.receiver.URL("/hook") || s.WebhookSettings.Retry.MaxRetries != 2 ||
		s.WebhookSettings.SecondaryURL != "" || s.WebhookSigningKey == "" {
		t.Errorf("settings %+v", s)
	}
	patched, err := c.PatchSettingsJSON(ctx, json.RawMessage(`{"secondary_url":null,"strict_validation":true}`))
	if err != nil || !patched.StrictValidation {
		t.Fatalf("patch: %+v, %v", patched, err)
	}
	if _, err := c.PatchSettings(ctx, SettingsPatch{}); !errors.As(err, &herr) || herr.Code != CodeInvalidBody {
		t.Errorf("empty patch: %v", err)
	}

	admin := New(h.url, h.adminKey)
	if _, err := admin.CreateEnvironment(ctx, "prod"); !errors.As(err, &herr) || herr.StatusCode != 409 {
		t.Errorf("duplicate environment: %v", err)
	}
	env, err := admin.CreateEnvironment(ctx, "doomed")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteEnvironment(ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	envs, err := admin.ListEnvironments(ctx)
	if err != nil || len(envs) != 1 || envs[0].Name != "prod" || envs[0].SecretKey != "" {
		t.Errorf("environments %+v, %v", envs, err)
	}
	if _, err := c.ListEnvironments(ctx); !errors.As(err, &herr) || herr.StatusCode != 401 {
		t.Errorf("environments with an environment key: %v", err)
	}

	var raw json.RawMessage
	if err := c.Do(ctx, "GET", "/endpoints", nil, &raw); err != nil || !strings.Contains(string(raw), `"data"`) {
		t.Errorf("Do: %s, %v", raw, err)
	}
}
