package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// Defaults of a Client.
const (
	// DefaultAttempts is how many times a request is made at most, the
	// first included, when it is refused with 503 or 429 or (when it is
	// safe to repeat) fails on the network.
	DefaultAttempts = 3
	// DefaultMaxWait is the longest a Client waits between two attempts.
	// A Retry-After longer than this is not waited for: the *Error is
	// returned at once, with its RetryAfter set.
	DefaultMaxWait = 10 * time.Second
	// maxResponse bounds the bytes of one answer read into memory: a page
	// of 200 deliveries, or one delivery with its 1 MiB body, fits many
	// times over.
	maxResponse = 64 << 20
	// firstBackoff is the wait before the second attempt when herald
	// named none (no Retry-After, or a network error); it doubles for
	// each attempt after.
	firstBackoff = 250 * time.Millisecond
)

// Client calls one herald process with one bearer key. It is safe for
// concurrent use by several goroutines.
type Client struct {
	base      string
	key       string
	hc        *http.Client
	ua        string
	attempts  int
	maxWait   time.Duration
	sleep     func(ctx context.Context, d time.Duration) error // tests replace it
	jitterOff bool                                             // tests make backoff exact
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc (its
// transport, timeout, proxy…) instead of a client of its own with a
// 60 s timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithRetry sets how many times a request is made at most, the first
// included (1 disables retries; below 1 means 1), and the longest wait
// between two attempts (0 keeps DefaultMaxWait).
func WithRetry(attempts int, maxWait time.Duration) Option {
	return func(c *Client) {
		c.attempts = max(1, attempts)
		if maxWait > 0 {
			c.maxWait = maxWait
		}
	}
}

// WithUserAgent sets the User-Agent of every request; the default is
// herald-client-go/<version>.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.ua = ua }
}

// New returns a Client of the herald at baseURL (such as
// "http://127.0.0.1:8080"; a path prefix is kept, a trailing slash
// dropped) that authenticates with key: an environment's secret key, or
// the admin key for the admin methods. An unusable baseURL is reported by
// the first request.
func New(baseURL, key string, opts ...Option) *Client {
	c := &Client{
		base:     strings.TrimRight(baseURL, "/"),
		key:      key,
		hc:       &http.Client{Timeout: 60 * time.Second},
		ua:       "herald-client-go/" + herald.Version,
		attempts: DefaultAttempts,
		maxWait:  DefaultMaxWait,
		sleep:    sleepCtx,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// request is one API call, made once or several times.
type request struct {
	method string
	path   string // with its query string
	body   []byte // nil: none
	header http.Header
	// idempotent says that repeating the request after a network error
	// cannot do anything twice.
	idempotent bool
}

// Do makes one API call and decodes a 2xx answer's JSON into out, with
// the Client's key and retry policy: for routes that have no method of
// their own (endpoints, integrations, connections, signing-key rotation).
//
// path is the route with its query string, such as "/endpoints" or
// "/connections?provider_config_key=github". body is nil (no body),
// []byte or json.RawMessage (sent as is), or any other value (encoded as
// JSON). out is nil (the answer is dropped), a *json.RawMessage (it gets
// the answer's bytes), or a pointer to decode into. A GET is tried again
// after a network error; other methods only on 503 and 429.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	r := request{method: method, path: path, idempotent: method == http.MethodGet || method == http.MethodHead}
	switch b := body.(type) {
	case nil:
	case []byte:
		r.body = b
	case json.RawMessage:
		r.body = b
	default:
		var err error
		if r.body, err = json.Marshal(body); err != nil {
			return fmt.Errorf("herald: encode the request body: %w", err)
		}
	}
	return c.call(ctx, r, out)
}

// call makes r, retrying as the policy allows, and decodes the answer.
func (c *Client) call(ctx context.Context, r request, out any) error {
	// A request that cannot be built fails the same way every time.
	if u, err := url.Parse(c.base); err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("herald: base URL %q: want http:// or https:// and a host", c.base)
	}
	if _, err := url.Parse(c.base + r.path); err != nil {
		return fmt.Errorf("herald: %s %s: %w", r.method, r.path, err)
	}
	for attempt := 1; ; attempt++ {
		b, status, header, err := c.once(ctx, r)
		if err == nil && status >= 200 && status < 300 {
			return decode(b, out)
		}
		var wait time.Duration
		retriable := false
		if err != nil {
			// No answer: the request may have been carried out. Repeat it
			// only when that cannot do anything twice.
			if ctx.Err() != nil {
				return ctx.Err()
			}
			retriable = r.idempotent
			wait = c.backoff(attempt)
		} else {
			herr := newError(status, header, b)
			err = herr
			if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
				retriable = true
				wait = herr.RetryAfter
				if wait == 0 {
					wait = c.backoff(attempt)
				} else if wait > c.maxWait {
					retriable = false // herald asked for more than we may wait
				}
			}
		}
		if !retriable || attempt >= c.attempts {
			return err
		}
		if err := c.sleep(ctx, min(wait, c.maxWait)); err != nil {
			return err
		}
	}
}

// backoff is the wait before attempt+1 when herald named none: 250 ms,
// then doubling, each between half and all of that (jitter spreads many
// clients' retries), at most maxWait.
func (c *Client) backoff(attempt int) time.Duration {
	d := min(firstBackoff<<(attempt-1), c.maxWait)
	if c.jitterOff || d < 2 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// once makes r one time; it returns the answer whatever its status, or
// the network error.
func (c *Client) once(ctx context.Context, r request) ([]byte, int, http.Header, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("herald: %s %s: %w", r.method, r.path, err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("herald: %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("herald: %s %s: read the answer: %w", r.method, r.path, err)
	}
	if len(b) > maxResponse {
		return nil, 0, nil, fmt.Errorf("herald: %s %s: the answer is larger than %d bytes", r.method, r.path, maxResponse)
	}
	return b, resp.StatusCode, resp.Header, nil
}

func decode(b []byte, out any) error {
	switch o := out.(type) {
	case nil:
		return nil
	case *json.RawMessage:
		*o = append((*o)[:0], b...)
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("herald: decode the answer: %w", err)
	}
	return nil
}

// query builds a query string from name, value pairs, leaving out empty
// values; "" when none is left.
func query(pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// stamp writes t as the API reads it (RFC 3339 in UTC); "" for the zero
// time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// pathID escapes an id for a path segment and refuses an empty one, which
// would name another route.
func pathID(what, id string) (string, error) {
	if id == "" {
		return "", errors.New("herald: " + what + " id is empty")
	}
	return url.PathEscape(id), nil
}
