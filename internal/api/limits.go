package api

import (
	"context"
	"errors"
	"io"
	"net/http"

	"golang.org/x/sync/semaphore"
)

// DefaultBodyBudget is how many bytes of request bodies the API holds in
// memory at once, across all requests, when Config.BodyBudget is 0
// (docs/running.md#memory).
const DefaultBodyBudget = 64 << 20

// bodyChunk is the step in which a body of unknown length (chunked, no
// Content-Length) draws on the budget as it is read.
const bodyChunk = 64 << 10

// bodyBudget is the one budget of request-body bytes in flight. Every
// body the API reads draws on it: a body with a Content-Length takes its
// whole length before the first byte is read (all or nothing, so that
// many concurrent bodies cannot each get part of the budget and all fail
// half-read); a body without one takes bodyChunk more each time its buffer
// grows. What a request took is given back when its handler returns.
// Taking never waits: when the budget is spent, the request is answered
// 503 unavailable with Retry-After: 1 (errBudget).
type bodyBudget struct {
	sem  *semaphore.Weighted
	size int64
}

func newBodyBudget(size int64) *bodyBudget {
	if size <= 0 {
		size = DefaultBodyBudget
	}
	return &bodyBudget{sem: semaphore.NewWeighted(size), size: size}
}

// charge is what one request has taken from the budget. It lives in the
// request's context; ServeHTTP gives it back when the handler returns.
// A handler runs on one goroutine, so charge needs no lock.
type charge struct {
	b *bodyBudget
	n int64
}

type chargeKey struct{}

// withCharge returns r carrying a fresh charge on b, and the function that
// gives it back.
func (b *bodyBudget) withCharge(r *http.Request) (*http.Request, func()) {
	c := &charge{b: b}
	return r.WithContext(context.WithValue(r.Context(), chargeKey{}, c)), c.release
}

func chargeOf(r *http.Request) *charge {
	c, _ := r.Context().Value(chargeKey{}).(*charge)
	return c
}

// take draws n more bytes, without waiting.
func (c *charge) take(n int64) error {
	if c == nil || n <= 0 {
		return nil
	}
	if c.n+n > c.b.size {
		// More than the whole budget: no retry can succeed.
		return errTooLarge()
	}
	if !c.b.sem.TryAcquire(n) {
		return errBudget
	}
	c.n += n
	return nil
}

func (c *charge) release() {
	if c.n > 0 {
		c.b.sem.Release(c.n)
		c.n = 0
	}
}

// errBudget answers a request whose body does not fit in what is left of
// the budget.
var errBudget = &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable,
	msg: "herald is reading too many request bodies at once; nothing was stored, try again", retryAfter: 1}

// readBody reads at most limit bytes, drawing on the body budget; more is
// 413, no room left in the budget is 503.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge()
	}
	c := chargeOf(r)
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength < 0 {
		return readUnknownLength(body, c, limit)
	}
	// The server ends the body at Content-Length, so exactly this much is
	// read, into a buffer allocated once.
	if err := c.take(r.ContentLength); err != nil {
		return nil, err
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, readError(err)
	}
	return buf, nil
}

// readUnknownLength reads a body without Content-Length: the buffer grows
// a chunk at a time (doubling beyond), drawing on the budget for each
// growth. When it is full, one byte is read first, so that a body that
// ends exactly there takes nothing more.
func readUnknownLength(body io.Reader, c *charge, limit int64) ([]byte, error) {
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			var probe [1]byte
			_, err := io.ReadFull(body, probe[:])
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return nil, readError(err)
			}
			grow := min(max(int64(cap(buf)), bodyChunk), limit-int64(cap(buf)))
			if c != nil {
				grow = min(grow, c.b.size-c.n) // a body may be as large as the whole budget
			}
			if grow <= 0 {
				return nil, errTooLarge()
			}
			if err := c.take(grow); err != nil {
				return nil, err
			}
			next := make([]byte, len(buf), int64(cap(buf))+grow)
			copy(next, buf)
			buf = append(next, probe[0])
			continue
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, readError(err)
		}
	}
}

func errTooLarge() *apiError {
	return errf(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "request body exceeds the size limit")
}

// readError is the answer for a body that could not be read: over the
// route's limit (413), or cut off.
func readError(err error) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge()
	}
	return badBody("could not read the request body")
}
