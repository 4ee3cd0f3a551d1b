package herald

import (
	"context"
	"time"
)

// Span name styles of an environment's OTLP export (OTLPConfig.SpanNames).
const (
	// SpanNamesHerald names an attempt span "webhook attempt".
	SpanNamesHerald = "herald"
	// SpanNamesNango names it nango.webhook.<action>, with Nango-like
	// attributes (docs/running.md, Traces).
	SpanNamesNango = "nango"
)

// OTLPConfig is an environment's own export of its attempt spans (SPEC
// §11): sent, besides any process-wide export, to Endpoint + "/v1/traces"
// with Headers.
type OTLPConfig struct {
	EnvironmentID string
	Endpoint      string
	// Headers are sent with every export; their values are secrets the
	// API never shows.
	Headers   map[string]string
	SpanNames string // SpanNamesHerald or SpanNamesNango
	UpdatedAt time.Time
}

// OTLPStore keeps environments' OTLP export configurations.
type OTLPStore interface {
	// PutOTLP stores cfg for cfg.EnvironmentID, replacing any; an empty
	// Endpoint removes it. ErrEnvironmentDeleted when the environment does
	// not exist.
	PutOTLP(ctx context.Context, cfg OTLPConfig) error
	// OTLP returns the environment's configuration, or ErrNotFound when it
	// has none.
	OTLP(ctx context.Context, envID string) (*OTLPConfig, error)
}
