// Package tracing owns herald's OpenTelemetry tracer providers
// (docs/running.md, Traces): the process-wide one, configured by the
// standard OTEL_EXPORTER_OTLP_* variables and off when no endpoint is set,
// and one per environment that asked for its own export (SPEC §11,
// PATCH /environment/otlp). It starts the request span of an accepted
// request and the span of each webhook attempt.
package tracing

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// instrumentation is the name of herald's tracers.
const instrumentation = "github.com/heraldhq/herald"

// DefaultMaxEnvironments bounds the environments whose export is cached.
const DefaultMaxEnvironments = 1000

// configTTL is how long an environment's export configuration read from
// the store is trusted; a change made through this process applies at
// once (Forget), one made through another process within this time.
const configTTL = 30 * time.Second

// Options configure New.
type Options struct {
	// Store reads environments' own exports; nil: none.
	Store herald.OTLPStore
	// HTTPClient sends environments' exports (the egress client, so that
	// an endpoint cannot reach what webhooks may not); nil: a default
	// client.
	HTTPClient *http.Client
	// BatchTimeout is how long spans wait before they are exported; 0: the
	// SDK's (OTEL_BSP_SCHEDULE_DELAY, 5 s). Tests make it small.
	BatchTimeout time.Duration
	// MaxEnvironments bounds the environments whose providers are cached;
	// 0: DefaultMaxEnvironments.
	MaxEnvironments int
}

// Tracing holds the tracer providers. A nil *Tracing traces nothing.
type Tracing struct {
	opts     Options
	res      *resource.Resource
	sdk      *sdktrace.TracerProvider // process-wide; nil when off
	shared   sdktrace.SpanProcessor   // the process-wide export, for environments' providers too
	tracer   trace.Tracer
	prop     propagation.TraceContext
	mu       sync.Mutex
	envs     map[string]*envEntry
	closed   bool
	shutdown sync.WaitGroup // providers being shut down after eviction
}

// Enabled reports whether the process-wide export is on: whether
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
func Enabled() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// New builds the process-wide provider from the OTEL_EXPORTER_OTLP_*
// variables (a no-op tracer when no endpoint is set) and readies the
// environments' providers. Shutdown flushes and stops them all.
func New(ctx context.Context, opts Options) (*Tracing, error) {
	if opts.MaxEnvironments <= 0 {
		opts.MaxEnvironments = DefaultMaxEnvironments
	}
	name := os.Getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = "herald"
	}
	res, err := resource.New(ctx, resource.WithFromEnv(),
		resource.WithAttributes(attribute.String("service.name", name), attribute.String("service.version", herald.Version)))
	if err != nil && res == nil {
		return nil, err
	}
	t := &Tracing{opts: opts, res: res, envs: map[string]*envEntry{}, tracer: noop.NewTracerProvider().Tracer(instrumentation)}
	if Enabled() {
		exp, err := otlptracehttp.New(ctx) // reads OTEL_EXPORTER_OTLP_* itself
		if err != nil {
			return nil, err
		}
		t.shared = sdktrace.NewBatchSpanProcessor(exp, t.batchOptions()...)
		t.sdk = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(t.shared))
		t.tracer = t.sdk.Tracer(instrumentation)
	}
	return t, nil
}

func (t *Tracing) batchOptions() []sdktrace.BatchSpanProcessorOption {
	if t.opts.BatchTimeout > 0 {
		return []sdktrace.BatchSpanProcessorOption{sdktrace.WithBatchTimeout(t.opts.BatchTimeout)}
	}
	return nil
}

// Shutdown flushes the spans not yet exported and stops every provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	t.closed = true
	envs := t.envs
	t.envs = map[string]*envEntry{}
	t.mu.Unlock()
	var errs []error
	for _, e := range envs {
		if e.provider != nil {
			errs = append(errs, e.provider.Shutdown(ctx))
		}
	}
	t.shutdown.Wait()
	if t.sdk != nil {
		errs = append(errs, t.sdk.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// TraceParent is the W3C traceparent of ctx's span, "" when it has none:
// what an event stores so that its attempts continue the trace.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// Accepted notes on ctx's request span what was accepted: the
// environment, and the event's type and connection when there is one
// event.
func Accepted(ctx context.Context, envID string, events []herald.EventRecord) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("herald.environment.id", envID), attribute.Int("herald.event.count", len(events)))
	if len(events) == 1 {
		ev := &events[0].Event
		span.SetAttributes(attribute.String("herald.event.type", ev.Type), attribute.String("herald.event.id", ev.ID))
		if ev.ConnectionID != "" {
			span.SetAttributes(attribute.String("herald.connection.id", ev.ConnectionID))
		}
	}
}
