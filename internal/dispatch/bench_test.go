package dispatch

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/testkit"
)

// benchBody is a realistic ~900-byte Nango sync webhook, canonicalized
// as intake stores it.
var benchBody = func() []byte {
	b, err := canonjson.Canonicalize([]byte(testkit.SyncWebhook))
	if err != nil {
		panic(err)
	}
	return b
}()

// benchStore answers the two reads an attempt makes, the environment and
// the endpoint, as the cached store does once warm: from memory.
type benchStore struct {
	herald.Store
	env *herald.Environment
	ep  *herald.Endpoint
}

func (s *benchStore) EnvironmentByID(context.Context, string) (*herald.Environment, error) {
	return s.env, nil
}

func (s *benchStore) EndpointByURL(context.Context, string, string) (*herald.Endpoint, error) {
	if s.ep == nil {
		return nil, herald.ErrNotFound
	}
	return s.ep, nil
}

// benchJob returns an environment, its endpoint at url with a static
// header, and a job for it.
func benchJob(url string, standard bool, forwarded bool) (*herald.Environment, *herald.Endpoint, herald.Job) {
	env := &herald.Environment{ID: "0196a0a0-0000-7000-8000-000000000001", Name: "bench",
		SigningKey: "0196a0a0-0000-7000-8000-0000000000ff", Settings: herald.DefaultSettings()}
	env.Settings.StandardWebhooks = standard
	ep := &herald.Endpoint{ID: "0196a0a0-0000-7000-8000-000000000002", EnvironmentID: env.ID, URL: url,
		Headers: map[string]string{"X-Team": "calendar"}}
	job := herald.Job{DeliveryID: "0196a0a0-0000-7000-8000-000000000003", EventID: "0196a0a0-0000-7000-8000-000000000004",
		EnvironmentID: env.ID, URL: url, Body: benchBody, LeaseGen: herald.FreshLeaseGen, EventType: "sync", ConnectionID: "c"}
	if forwarded {
		job.Headers = []byte(`{"x-github-event":"push","x-github-delivery":"72d3162e-cc78-11e3-81ab-4c9367dc0958","x-hub-signature-256":"sha256=0123456789abcdef"}`)
	}
	return env, ep, job
}

var benchCases = []struct {
	name                string
	standard, forwarded bool
}{
	{"nango", false, false},
	{"standard", true, false},
	{"forward", false, true},
}

// BenchmarkAttempt is one delivery attempt end to end as a lane worker
// makes it (attemptAtEndpoint: endpoint, breaker, request with its
// headers and signatures, the send to a loopback receiver answering 200,
// the response read and the outcome decided), on a kept-alive connection.
func BenchmarkAttempt(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			env, ep, job := benchJob(srv.URL+"/hook", c.standard, c.forwarded)
			client := egress.New(egress.Options{AllowPrivate: true})
			defer client.CloseIdleConnections()
			d := New(Config{Store: &benchStore{env: env, ep: ep}, Client: client, Logger: slog.New(slog.DiscardHandler)})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, _, out, _ := d.attemptAtEndpoint(ctx, job)
				if out != attempted || res.Status != herald.StatusSucceeded {
					b.Fatalf("outcome %v, status %q, error %v", out, res.Status, res.Attempt.Error)
				}
			}
		})
	}
}

// BenchmarkSetHeaders is the headers of one attempt alone: what the
// request carries besides its body.
func BenchmarkSetHeaders(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			env, ep, job := benchJob("http://127.0.0.1:9/hook", c.standard, c.forwarded)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				h := make(http.Header, 12)
				setHeaders(h, env, job, ep.Headers, 1, now)
			}
		})
	}
}
