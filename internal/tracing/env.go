package tracing

import (
	"context"
	"errors"
	"maps"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// envEntry is an environment's cached export: none (cfg nil), or its own
// provider, which also feeds the process-wide export when that is on.
type envEntry struct {
	cfg      *herald.OTLPConfig
	fetched  time.Time
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// Forget drops what is cached of an environment's export, so that a
// change made through this process applies to the next attempt.
func (t *Tracing) Forget(envID string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	e := t.envs[envID]
	delete(t.envs, envID)
	t.mu.Unlock()
	t.retire(e)
}

// retire shuts an environment's provider down in the background, flushing
// its spans.
func (t *Tracing) retire(e *envEntry) {
	if e == nil || e.provider == nil {
		return
	}
	t.shutdown.Add(1)
	go func() {
		defer t.shutdown.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.provider.Shutdown(ctx)
	}()
}

// tracerFor is the tracer of an environment's attempts: its own provider
// when it has an export, else the process-wide one.
func (t *Tracing) tracerFor(ctx context.Context, envID string) trace.Tracer {
	if t.opts.Store == nil {
		return t.tracer
	}
	t.mu.Lock()
	e := t.envs[envID]
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return t.tracer
	}
	if e != nil && time.Since(e.fetched) < configTTL {
		return e.tracerOr(t.tracer)
	}
	cfg, err := t.opts.Store.OTLP(ctx, envID)
	switch {
	case errors.Is(err, herald.ErrNotFound):
		cfg = nil
	case err != nil:
		return e.tracerOr(t.tracer) // the store is away: keep what was known
	}
	fresh := &envEntry{cfg: cfg, fetched: time.Now()}
	reused := e != nil && sameConfig(e.cfg, cfg)
	if reused {
		fresh.provider, fresh.tracer = e.provider, e.tracer
	} else if cfg != nil {
		if p, err := t.newEnvProvider(ctx, cfg); err == nil {
			fresh.provider, fresh.tracer = p, p.Tracer(instrumentation)
		}
	}
	t.mu.Lock()
	if cur := t.envs[envID]; t.closed || cur != e {
		// Shut down, or another attempt refreshed it meanwhile: theirs
		// stands.
		t.mu.Unlock()
		if !reused {
			t.retire(fresh)
		}
		if t.closed {
			return t.tracer
		}
		return cur.tracerOr(t.tracer)
	}
	var victim *envEntry
	if e == nil && len(t.envs) >= t.opts.MaxEnvironments {
		for id, v := range t.envs { // any one: the map's order is random enough
			delete(t.envs, id)
			victim = v
			break
		}
	}
	t.envs[envID] = fresh
	t.mu.Unlock()
	t.retire(victim)
	if !reused {
		t.retire(e)
	}
	return fresh.tracerOr(t.tracer)
}

func (e *envEntry) tracerOr(def trace.Tracer) trace.Tracer {
	if e == nil || e.tracer == nil {
		return def
	}
	return e.tracer
}

func sameConfig(a, b *herald.OTLPConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Endpoint == b.Endpoint && a.SpanNames == b.SpanNames && maps.Equal(a.Headers, b.Headers)
}

// newEnvProvider builds an environment's provider: its own export to
// <endpoint>/v1/traces, and the process-wide one when that is on.
func (t *Tracing) newEnvProvider(ctx context.Context, cfg *herald.OTLPConfig) (*sdktrace.TracerProvider, error) {
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(strings.TrimRight(cfg.Endpoint, "/") + "/v1/traces"),
		otlptracehttp.WithHeaders(maps.Clone(cfg.Headers)),
		otlptracehttp.WithTimeout(10 * time.Second),
	}
	if t.opts.HTTPClient != nil {
		opts = append(opts, otlptracehttp.WithHTTPClient(t.opts.HTTPClient))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	var exporter sdktrace.SpanExporter = exp
	if cfg.SpanNames == herald.SpanNamesNango {
		exporter = nangoExporter{exp}
	}
	popts := []sdktrace.TracerProviderOption{sdktrace.WithResource(t.res),
		sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(exporter, t.batchOptions()...))}
	if t.shared != nil {
		popts = append(popts, sdktrace.WithSpanProcessor(sharedProcessor{t.shared}))
	}
	return sdktrace.NewTracerProvider(popts...), nil
}

// sharedProcessor is the process-wide export fed by an environment's
// provider too; that provider's shutdown leaves it running.
type sharedProcessor struct{ sdktrace.SpanProcessor }

func (sharedProcessor) Shutdown(context.Context) error { return nil }

// nangoExporter renames attempt spans the way Nango names its own
// (SpanNamesNango) on their way to an environment's endpoint.
type nangoExporter struct{ sdktrace.SpanExporter }

func (x nangoExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = s
		if s.Name() == AttemptSpanName {
			out[i] = nangoSpan(s)
		}
	}
	return x.SpanExporter.ExportSpans(ctx, out)
}

// renamedSpan is a span exported under another name with more attributes.
type renamedSpan struct {
	sdktrace.ReadOnlySpan
	name  string
	attrs []attribute.KeyValue
}

func (s renamedSpan) Name() string                     { return s.name }
func (s renamedSpan) Attributes() []attribute.KeyValue { return s.attrs }

// NangoAction is the Nango operation of a webhook type, the <action> of
// the span name nango.webhook.<action>.
func NangoAction(webhookType string) string {
	switch webhookType {
	case "sync", "auth", "forward", "async_action":
		return webhookType
	}
	return "unknown"
}

// nangoSpan is an attempt span with herald's approximation of Nango's
// names: nango.webhook.<action>, nango.operation.type "webhook",
// nango.operation.action, nango.connection, nango.environment.
func nangoSpan(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	attrs := s.Attributes()
	var typ, conn, env string
	for _, kv := range attrs {
		switch kv.Key {
		case attrEventType:
			typ = kv.Value.AsString()
		case attrConnectionID:
			conn = kv.Value.AsString()
		case attrEnvironmentID:
			env = kv.Value.AsString()
		}
	}
	action := NangoAction(typ)
	more := append(attrs[:len(attrs):len(attrs)],
		attribute.String("nango.operation.type", "webhook"),
		attribute.String("nango.operation.action", action),
		attribute.String("nango.environment", env))
	if conn != "" {
		more = append(more, attribute.String("nango.connection", conn))
	}
	return renamedSpan{ReadOnlySpan: s, name: "nango.webhook." + action, attrs: more}
}
