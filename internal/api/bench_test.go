package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/testkit"
)

// benchServer is the API as internal/server wires it, on a SQLite file
// behind the cache, with a dispatcher that is not running: every delivery
// is stored pending, so only ingest is measured, never an attempt.
type benchServer struct {
	srv *api.Server
	in  *intake.Service
	env *herald.Environment
}

func newBenchServer(b *testing.B) *benchServer {
	b.Helper()
	db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	store := cache.New(db, cache.Options{})
	envs := environments.New(environments.Config{Store: store})
	env, err := envs.Create(b.Context(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	// Never contacted: the dispatcher does not run.
	if env.Settings, err = envs.UpdateSettings(b.Context(), env, map[string]any{"primary_url": "http://127.0.0.1:9/hook"}); err != nil {
		b.Fatal(err)
	}
	d := dispatch.New(dispatch.Config{Store: store, Client: egress.New(egress.Options{AllowPrivate: true}), Logger: discard})
	in := &intake.Service{Store: store, Dispatcher: d}
	srv := api.New(api.Config{Store: store, Intake: in, Environments: envs, Logger: discard})
	return &benchServer{srv: srv, in: in, env: env}
}

// post serves one request without the network and checks it was accepted.
func (s *benchServer) post(b *testing.B, path string, body []byte) {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.env.SecretKey)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.srv.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

// BenchmarkPostEvent is POST /events, one event per request, through the
// API handler (authentication, body, parse, validation, canonical body,
// ingest into SQLite, answer) without the network.
func BenchmarkPostEvent(b *testing.B) {
	s := newBenchServer(b)
	body := []byte(testkit.SyncWebhook)
	s.post(b, "/events", body) // the environment cached, the database warm
	b.ReportAllocs()
	for b.Loop() {
		s.post(b, "/events", body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPostEventParallel is BenchmarkPostEvent from many producers at
// once (16 per CPU), as one-event-per-request traffic arrives: the store's
// group commit shares each commit among them, so what is left per event
// is the handler's own work.
func BenchmarkPostEventParallel(b *testing.B) {
	s := newBenchServer(b)
	body := []byte(testkit.SyncWebhook)
	s.post(b, "/events", body)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.post(b, "/events", body)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPostEventLoopback is BenchmarkPostEventParallel through a
// loopback HTTP server on kept-alive connections: the difference is what
// the HTTP path (server and, in this process too, client) costs per
// request.
func BenchmarkPostEventLoopback(b *testing.B) {
	s := newBenchServer(b)
	ts := httptest.NewServer(s.srv)
	defer ts.Close()
	client := ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	body := []byte(testkit.SyncWebhook)
	send := func() error {
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/events", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.env.SecretKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := send(); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := send(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPostEventBatch is POST /events/batch with 100 events per
// request; events/s compares with BenchmarkPostEvent.
func BenchmarkPostEventBatch(b *testing.B) {
	const n = 100
	s := newBenchServer(b)
	var buf bytes.Buffer
	buf.WriteString(`{"events":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(testkit.SyncWebhook)
	}
	buf.WriteString(`]}`)
	body := buf.Bytes()
	s.post(b, "/events/batch", body)
	b.ReportAllocs()
	for b.Loop() {
		s.post(b, "/events/batch", body)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAcceptEvent is intake alone: one parsed event accepted (its
// canonical body, ids, answer and the ingest), without HTTP.
func BenchmarkAcceptEvent(b *testing.B) {
	s := newBenchServer(b)
	v, err := canonjson.Parse([]byte(testkit.SyncWebhook))
	if err != nil {
		b.Fatal(err)
	}
	hook, err := intake.Parse(s.env, v)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	answer, err := s.in.AcceptEvent(ctx, s.env, "", hook)
	if err != nil {
		b.Fatal(err)
	}
	var res intake.Result
	if err := json.Unmarshal(answer, &res); err != nil || len(res.Deliveries) != 1 {
		b.Fatalf("answer %s (%v): want one delivery", answer, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.in.AcceptEvent(ctx, s.env, "", hook); err != nil {
			b.Fatal(err)
		}
	}
}
