package environments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	herald "github.com/heraldhq/herald"
)

// OTLP limits of an environment's export (docs/settings.md).
const (
	maxOTLPHeaders     = 20
	maxOTLPHeaderValue = 4096
)

// OTLP returns env's own OTLP export, nil when it has none.
func (s *Service) OTLP(ctx context.Context, env *herald.Environment) (*herald.OTLPConfig, error) {
	cfg, err := s.store.OTLP(ctx, env.ID)
	if errors.Is(err, herald.ErrNotFound) {
		return nil, nil
	}
	return cfg, err
}

// UpdateOTLP applies a PATCH /environment/otlp body, already parsed as
// generic JSON: endpoint (null removes the export), headers (replaced when
// given) and span_names. The endpoint is checked as a webhook URL is. It
// returns the new configuration, nil when removed.
func (s *Service) UpdateOTLP(ctx context.Context, env *herald.Environment, patch any) (*herald.OTLPConfig, error) {
	obj, ok := patch.(map[string]any)
	if !ok {
		return nil, herald.Invalid("", "the body must be a JSON object")
	}
	for k := range obj {
		if k != "endpoint" && k != "headers" && k != "span_names" {
			return nil, herald.Invalid(k, "unknown field: endpoint, headers and span_names can be set")
		}
	}
	cur, err := s.OTLP(ctx, env)
	if err != nil {
		return nil, err
	}
	next := herald.OTLPConfig{EnvironmentID: env.ID, SpanNames: herald.SpanNamesHerald, UpdatedAt: s.now()}
	if cur != nil {
		next.Endpoint, next.Headers, next.SpanNames = cur.Endpoint, cur.Headers, cur.SpanNames
	}
	if v, ok := obj["endpoint"]; ok {
		switch e := v.(type) {
		case nil:
			next.Endpoint = ""
		case string:
			if _, err := herald.ValidateURL(e); err != nil {
				return nil, herald.Invalid("endpoint", err.Error())
			}
			if s.checkURL != nil {
				if err := s.checkURL(ctx, e); err != nil {
					return nil, herald.Invalid("endpoint", err.Error())
				}
			}
			next.Endpoint = e
		default:
			return nil, herald.Invalid("endpoint", "must be a URL string or null")
		}
	}
	if cur != nil && next.Endpoint != cur.Endpoint {
		// The headers hold secrets meant for the endpoint they were given
		// with: a new endpoint gets only the headers sent along.
		next.Headers = nil
	}
	if v, ok := obj["headers"]; ok {
		h, err := otlpHeaders(v)
		if err != nil {
			return nil, err
		}
		next.Headers = h
	}
	if v, ok := obj["span_names"]; ok {
		n, _ := v.(string)
		if n != herald.SpanNamesHerald && n != herald.SpanNamesNango {
			return nil, herald.Invalid("span_names", `must be "herald" or "nango"`)
		}
		next.SpanNames = n
	}
	if next.Endpoint == "" {
		if _, given := obj["endpoint"]; !given && cur == nil {
			return nil, herald.Invalid("endpoint", "required: no OTLP export is configured yet")
		}
		next = herald.OTLPConfig{EnvironmentID: env.ID}
	}
	if err := s.store.PutOTLP(ctx, next); err != nil {
		return nil, fmt.Errorf("update otlp: %w", err)
	}
	if next.Endpoint == "" {
		return nil, nil
	}
	return &next, nil
}

// otlpHeaders checks a headers object: lower-cased token names, values
// that fit in a header line.
func otlpHeaders(v any) (map[string]string, error) {
	if v == nil {
		return map[string]string{}, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, herald.Invalid("headers", "must be an object of header names to string values")
	}
	if len(obj) > maxOTLPHeaders {
		return nil, herald.Invalid("headers", fmt.Sprintf("at most %d headers", maxOTLPHeaders))
	}
	out := make(map[string]string, len(obj))
	for name, val := range obj {
		s, ok := val.(string)
		if !ok {
			return nil, herald.Invalid("headers."+name, "must be a string")
		}
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
			return nil, herald.Invalid("headers", fmt.Sprintf("%q is not a valid header name", name))
		}
		if len(s) > maxOTLPHeaderValue || strings.ContainsAny(s, "\r\n\x00") {
			return nil, herald.Invalid("headers."+name, fmt.Sprintf("must be at most %d bytes without line breaks", maxOTLPHeaderValue))
		}
		out[strings.ToLower(name)] = s
	}
	return out, nil
}

func isTokenChar(r rune) bool {
	return r < 127 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!#$%&'*+-.^_`|~", r))
}

// OTLPHeaderNames are the names of cfg's headers, sorted: what the API
// shows of them (their values are secrets).
func OTLPHeaderNames(cfg *herald.OTLPConfig) []string {
	names := make([]string, 0, len(cfg.Headers))
	for n := range cfg.Headers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
