package tracing

import (
	"context"
	"net/url"
	"strings"

	herald "github.com/heraldhq/herald"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// AttemptSpanName is the name of an attempt's span (herald's names).
const AttemptSpanName = "webhook attempt"

// Attribute keys of herald's spans.
const (
	attrEnvironmentID = "herald.environment.id"
	attrEventType     = "herald.event.type"
	attrConnectionID  = "herald.connection.id"
)

// Attempt is the span of one webhook attempt; nil traces nothing.
type Attempt struct {
	span trace.Span
	url  string // the job's URL, kept out of what is exported
	host string
}

// StartAttempt starts the span of attempt number of job, a child of the
// trace context its event was accepted in. The span goes to the
// environment's own export when it has one, and to the process-wide one.
func (t *Tracing) StartAttempt(ctx context.Context, job herald.Job, number int) *Attempt {
	if t == nil {
		return nil
	}
	tracer := t.tracerFor(ctx, job.EnvironmentID)
	parent := context.WithoutCancel(ctx)
	if job.TraceParent != "" {
		parent = t.prop.Extract(parent, propagation.MapCarrier{"traceparent": job.TraceParent})
	}
	_, span := tracer.Start(parent, AttemptSpanName, trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		span.End()
		return nil
	}
	a := &Attempt{span: span, url: job.URL}
	if u, err := url.Parse(job.URL); err == nil {
		a.host = u.Host
	}
	attrs := []attribute.KeyValue{
		attribute.String(attrEnvironmentID, job.EnvironmentID),
		attribute.String("herald.event.id", job.EventID),
		attribute.String("herald.delivery.id", job.DeliveryID),
		attribute.Int("herald.attempt", number),
		attribute.String("url.host", a.host), // never the URL: its query may hold secrets
	}
	if job.EventType != "" {
		attrs = append(attrs, attribute.String(attrEventType, job.EventType))
	}
	if job.ConnectionID != "" {
		attrs = append(attrs, attribute.String(attrConnectionID, job.ConnectionID))
	}
	span.SetAttributes(attrs...)
	return a
}

// End ends the span with the attempt's outcome; ok false: interrupted by
// shutdown, not recorded.
func (a *Attempt) End(res herald.AttemptResult, ok bool) {
	if a == nil {
		return
	}
	if res.Attempt.StatusCode != nil {
		a.span.SetAttributes(attribute.Int("http.response.status_code", *res.Attempt.StatusCode))
	}
	switch {
	case !ok:
		a.span.SetStatus(codes.Error, "interrupted by shutdown")
	case res.Status == herald.StatusSucceeded:
		a.span.SetAttributes(attribute.String("herald.delivery.status", res.Status))
	default:
		a.span.SetAttributes(attribute.String("herald.delivery.status", res.Status))
		msg := "attempt failed"
		if res.Attempt.Error != nil {
			msg = *res.Attempt.Error
			if a.url != "" {
				// The client's errors quote the URL; only its host is shown.
				msg = strings.ReplaceAll(msg, a.url, a.host)
			}
		}
		a.span.SetStatus(codes.Error, msg)
	}
	a.span.End()
}
