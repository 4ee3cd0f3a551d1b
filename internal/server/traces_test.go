package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-process OTLP/HTTP trace receiver.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				rcv.spans = append(rcv.spans, ss.Spans...)
			}
		}
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	rcv.url = srv.URL
	return rcv
}

// waitFor polls until a span named name with the given attribute exists,
// for at most 10 s.
func (rcv *otlpReceiver) waitFor(t *testing.T, name, key, value string) *tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rcv.mu.Lock()
		for _, s := range rcv.spans {
			if s.Name == name && attr(s, key) == value {
				rcv.mu.Unlock()
				return s
			}
		}
		rcv.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no span %q with %s=%s in %d spans", name, key, value, rcv.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (rcv *otlpReceiver) count() int {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return len(rcv.spans)
}

func (rcv *otlpReceiver) all() []*tracepb.Span {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return append([]*tracepb.Span(nil), rcv.spans...)
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			switch v := kv.Value.Value.(type) {
			case interface{ GetStringValue() string }:
				return v.GetStringValue()
			}
			if kv.Value.GetIntValue() != 0 {
				return itoa(kv.Value.GetIntValue())
			}
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// startTracedHerald starts herald with a small trace batch timeout.
func startTracedHerald(t *testing.T) *metricsHerald {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &metricsHerald{url: "http://" + ln.Addr().String(), adminKey: "admin-key-for-traces"}
	cfg := Config{Database: "sqlite:" + filepath.Join(t.TempDir(), "herald.db"), AdminKey: h.adminKey, AllowPrivateURLs: true,
		ShutdownGrace: time.Second, TraceBatchTimeout: 50 * time.Millisecond}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, ln, slog.New(slog.DiscardHandler), io.Discard) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// The process-wide export: a request span continues the producer's
// traceparent, and the attempt span is in the same trace.
func TestTracesProcessWide(t *testing.T) {
	rcv := newOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.url)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_SERVICE_NAME", "")
	okURL, _ := receiver(t, http.StatusOK)
	h := startTracedHerald(t)
	key := h.newEnv(t, "traced", `{"primary_url":"`+okURL+`?token=secret"}`)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	tp := "00-" + traceID + "-00f067aa0ba902b7-01"
	var res struct {
		ID string `json:"id"`
	}
	h.call(t, "POST", "/events", key, map[string]string{"traceparent": tp}, syncEvent(7), http.StatusAccepted, &res)

	req := rcv.waitFor(t, "POST /events", "herald.event.type", "sync")
	if got := hex.EncodeToString(req.TraceId); got != traceID {
		t.Errorf("request span trace id %s, want %s", got, traceID)
	}
	if hex.EncodeToString(req.ParentSpanId) != "00f067aa0ba902b7" {
		t.Errorf("request span parent %x, want the producer's span", req.ParentSpanId)
	}
	if attr(req, "herald.connection.id") != "c7" || attr(req, "herald.environment.id") == "" {
		t.Errorf("request span attributes %v", req.Attributes)
	}
	att := rcv.waitFor(t, "webhook attempt", "herald.event.id", res.ID)
	if got := hex.EncodeToString(att.TraceId); got != traceID {
		t.Errorf("attempt span trace id %s, want %s", got, traceID)
	}
	if !bytes.Equal(att.ParentSpanId, req.SpanId) {
		t.Errorf("attempt span parent %x, want the request span %x", att.ParentSpanId, req.SpanId)
	}
	for k, want := range map[string]string{"herald.event.type": "sync", "http.response.status_code": "200",
		"herald.attempt": "1", "herald.environment.id": attr(req, "herald.environment.id")} {
		if got := attr(att, k); got != want {
			t.Errorf("attempt span %s = %q, want %q", k, got, want)
		}
	}
	if attr(att, "herald.delivery.id") == "" || attr(att, "url.host") == "" {
		t.Errorf("attempt span attributes %v", att.Attributes)
	}
	for _, kv := range att.Attributes {
		if bytes.Contains([]byte(kv.Value.GetStringValue()), []byte("secret")) {
			t.Errorf("attempt span attribute %s shows the URL's query: %s", kv.Key, kv.Value.GetStringValue())
		}
	}
}

// An environment's own export gets that environment's attempt spans
// only, named as Nango names them when asked.
func TestTracesPerEnvironment(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	rcv := newOTLPReceiver(t)
	okURL, okHits := receiver(t, http.StatusOK)
	h := startTracedHerald(t)
	mine := h.newEnv(t, "mine", `{"primary_url":"`+okURL+`"}`)
	other := h.newEnv(t, "other", `{"primary_url":"`+okURL+`"}`)

	var view struct {
		Endpoint  *string  `json:"endpoint"`
		Headers   []string `json:"headers"`
		SpanNames string   `json:"span_names"`
	}
	h.call(t, "PATCH", "/environment/otlp", mine, nil,
		`{"endpoint":"`+rcv.url+`","headers":{"Authorization":"Bearer otlp-secret"},"span_names":"nango"}`, http.StatusOK, &view)
	h.call(t, "GET", "/environment/otlp", mine, nil, "", http.StatusOK, &view)
	if view.Endpoint == nil || *view.Endpoint != rcv.url || len(view.Headers) != 1 || view.Headers[0] != "authorization" ||
		view.SpanNames != "nango" {
		t.Fatalf("GET /environment/otlp = %+v", view)
	}
	h.call(t, "PATCH", "/environment/otlp", other, nil, `{"endpoint":"ftp://x"}`, http.StatusBadRequest, nil)

	var ev struct {
		ID string `json:"id"`
	}
	h.call(t, "POST", "/events", other, nil, syncEvent(1), http.StatusAccepted, nil)
	h.call(t, "POST", "/events", mine, nil, syncEvent(2), http.StatusAccepted, &ev)
	s := rcv.waitFor(t, "nango.webhook.sync", "herald.event.id", ev.ID)
	for k, want := range map[string]string{"nango.operation.type": "webhook", "nango.operation.action": "sync",
		"nango.connection": "c2", "nango.environment": attr(s, "herald.environment.id")} {
		if got := attr(s, k); got != want || got == "" {
			t.Errorf("span %s = %q, want %q", k, got, want)
		}
	}
	// The other environment's attempt was made too, and not exported.
	deadline := time.Now().Add(10 * time.Second)
	for okHits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h.call(t, "POST", "/events", mine, nil, syncEvent(3), http.StatusAccepted, &ev)
	rcv.waitFor(t, "nango.webhook.sync", "herald.event.id", ev.ID)
	for _, s := range rcv.all() {
		if attr(s, "nango.connection") == "c1" || attr(s, "herald.connection.id") == "c1" {
			t.Errorf("the other environment's span was exported: %v", s)
		}
	}
	// Removed: GET shows none.
	h.call(t, "PATCH", "/environment/otlp", mine, nil, `{"endpoint":null}`, http.StatusOK, &view)
	if view.Endpoint != nil {
		t.Errorf("after removal endpoint = %v", *view.Endpoint)
	}
}
