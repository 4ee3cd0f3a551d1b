// Package testkit holds what the in-process tests of several packages
// share: a loopback webhook receiver and a bounded poll. Only tests import
// it.
package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Received is one webhook request as a Receiver got it.
type Received struct {
	Header http.Header
	Body   []byte
}

// Receiver is a webhook endpoint on loopback that answers 200 and keeps
// every request. It is closed when the test ends.
type Receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []Received
}

// NewReceiver starts a Receiver.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	rc := &Receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, Received{Header: r.Header.Clone(), Body: b})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// URL is the receiver's address with path appended.
func (rc *Receiver) URL(path string) string { return rc.srv.URL + path }

// Requests returns the requests received so far, in arrival order.
func (rc *Receiver) Requests() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.reqs...)
}

// WaitFor polls cond every 10 ms until it holds, failing the test after a
// deadline far beyond what any condition needs: a deadlock detector, not
// a speed assertion.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
