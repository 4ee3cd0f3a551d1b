package tracing

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traced are the routes whose requests get a span: those that accept
// events.
var traced = map[string]bool{
	"POST /events":       true,
	"POST /events/batch": true,
	"POST /webhook/{environmentId}/{providerConfigKey}": true,
}

// StartRequest starts the span of a request to one of the routes that
// accept events (pattern is the route's), named by the pattern and a
// child of the producer's W3C traceparent when it sent one. It returns the
// writer and request to serve with, and the function that ends the span.
// Other routes, and a nil Tracing, are passed through untouched.
func (t *Tracing) StartRequest(w http.ResponseWriter, r *http.Request, pattern string) (http.ResponseWriter, *http.Request, func()) {
	if t == nil || !traced[pattern] {
		return w, r, func() {}
	}
	ctx := t.prop.Extract(r.Context(), propagationCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, pattern, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", pattern[len(r.Method)+1:])))
	r = r.WithContext(ctx)
	if !span.IsRecording() {
		// Off: the producer's trace context still travels with the event.
		return w, r, func() { span.End() }
	}
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	return rec, r, func() {
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
		span.End()
	}
}

// statusWriter notes the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// propagationCarrier reads W3C headers from a request.
func propagationCarrier(h http.Header) propagation.HeaderCarrier { return propagation.HeaderCarrier(h) }
