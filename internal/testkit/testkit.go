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

// SyncWebhook is a realistic Nango sync webhook (~900 bytes) as a
// producer posts it, for the benchmarks of the packages it passes through
// (parsing and signing, ingest, the attempt).
const SyncWebhook = `{"from":"nango","type":"sync","connectionId":"8f3b1c2e-7d4a-4e5b-9c6d-0a1b2c3d4e5f",` +
	`"providerConfigKey":"google-calendar","syncName":"calendar-events","syncVariant":"base","model":"GoogleCalendarEvent",` +
	`"success":true,"syncType":"INCREMENTAL","modifiedAfter":"2024-05-14T09:31:07.123Z","queryTimeStamp":"2024-05-14T09:31:07.123Z",` +
	`"responseResults":{"added":12,"updated":3,"deleted":0},"checkpoints":null,"environment":"prod",` +
	`"tags":{"end_user_id":"u_1234567890","end_user_email":"jane.doe@example.com","organization_id":"org_42"},` +
	`"endUser":{"endUserId":"u_1234567890","endUserEmail":"jane.doe@example.com","organizationId":"org_42","tags":{}},` +
	`"metadata":{"calendars":["primary","team@example.com"],"timezone":"Europe/Zürich",` +
	`"window":{"start":1715673600000,"end":1716278400000,"ratio":0.75},"note":"Quarterly review <Q2> & planning",` +
	`"retries":[0,1,2],"flags":{"beta":false,"sampling":0.1,"threshold":1e-7}},"attempt":1,"id":987654321012}`
