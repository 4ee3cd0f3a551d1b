package api

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/alert"
	"github.com/heraldhq/herald/internal/telemetry"
)

// defaultEndpointConcurrency is what an endpoint without a limit of its
// own shows as its concurrency when Config.EndpointConcurrency is 0: the
// dispatcher's default attempts in flight per URL.
const defaultEndpointConcurrency = 32

// Limits of PATCH /endpoints/{id} (docs/endpoints.md).
const (
	maxEndpointRate        = 100_000
	maxEndpointConcurrency = 1000
	maxEndpointHeaders     = 32
	maxHeaderValue         = 4096
)

// endpointJSON is an endpoint as the API shows it (SPEC §13).
type endpointJSON struct {
	ID                  string            `json:"id"`
	URL                 string            `json:"url"`
	State               string            `json:"state"`
	DisabledReason      *string           `json:"disabled_reason"`
	DisabledAt          *string           `json:"disabled_at"`
	ConsecutiveFailures int               `json:"consecutive_failures"`
	FailingSince        *string           `json:"failing_since"`
	SuccessRate1h       *float64          `json:"success_rate_1h"`
	P50MS1h             *int              `json:"p50_ms_1h"`
	Concurrency         int               `json:"concurrency"`
	MaxConcurrency      *int              `json:"max_concurrency"`
	RateLimitPerS       *int              `json:"rate_limit_per_s"`
	Headers             map[string]string `json:"headers"`
	CircuitOpenUntil    *string           `json:"circuit_open_until"`
	CreatedAt           string            `json:"created_at"`
	UpdatedAt           string            `json:"updated_at"`
}

// endpointState is what GET /endpoints calls an endpoint's health.
func endpointState(ep *herald.Endpoint) string {
	switch {
	case ep.Disabled:
		return herald.EndpointDisabled
	case ep.CircuitOpenUntil != nil:
		// Open, or past its time and waiting for the probe's answer.
		return herald.EndpointCircuitOpen
	case ep.ConsecutiveFailures > 0:
		return herald.EndpointDegraded
	}
	return herald.EndpointHealthy
}

func (s *Server) toEndpointJSON(ep *herald.Endpoint, st herald.EndpointStats) endpointJSON {
	out := endpointJSON{ID: ep.ID, URL: ep.URL, State: endpointState(ep), DisabledAt: timestampPtr(ep.DisabledAt),
		ConsecutiveFailures: ep.ConsecutiveFailures, FailingSince: timestampPtr(ep.FailingSince),
		CircuitOpenUntil: timestampPtr(ep.CircuitOpenUntil),
		SuccessRate1h:    st.SuccessRate(), P50MS1h: st.MedianMS(), Concurrency: s.cfg.EndpointConcurrency,
		MaxConcurrency: ep.MaxConcurrency, RateLimitPerS: ep.RateLimitPerS, Headers: ep.Headers,
		CreatedAt: timestamp(ep.CreatedAt), UpdatedAt: timestamp(ep.UpdatedAt)}
	if out.Concurrency <= 0 {
		out.Concurrency = defaultEndpointConcurrency
	}
	if ep.MaxConcurrency != nil {
		out.Concurrency = min(out.Concurrency, *ep.MaxConcurrency)
	}
	if ep.Disabled {
		out.DisabledReason = &ep.DisabledReason
	}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	return out
}

// endpointViews shows eps with their figures of the last hour.
func (s *Server) endpointViews(r *http.Request, envID string, eps []herald.Endpoint) ([]endpointJSON, error) {
	urls := make([]string, len(eps))
	for i := range eps {
		urls[i] = eps[i].URL
	}
	stats := map[string]herald.EndpointStats{}
	if len(urls) > 0 {
		var err error
		if stats, err = s.store.EndpointStats(r.Context(), envID, urls, time.Now().Add(-time.Hour)); err != nil {
			return nil, err
		}
	}
	out := make([]endpointJSON, len(eps))
	for i := range eps {
		out[i] = s.toEndpointJSON(&eps[i], stats[eps[i].URL])
	}
	return out, nil
}

func (s *Server) writeEndpoint(w http.ResponseWriter, r *http.Request, ep *herald.Endpoint) error {
	views, err := s.endpointViews(r, ep.EnvironmentID, []herald.Endpoint{*ep})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, views[0])
	return nil
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	want := p.Limit
	p.Limit++
	eps, err := s.store.ListEndpoints(r.Context(), env.ID, p)
	if err != nil {
		return err
	}
	var next *string
	if len(eps) > want {
		eps = eps[:want]
		next = encodeCursor(eps[want-1].ID)
	}
	data, err := s.endpointViews(r, env.ID, eps)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next_cursor": next})
	return nil
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ep, err := s.store.Endpoint(r.Context(), env.ID, id)
	if err != nil {
		return err
	}
	return s.writeEndpoint(w, r, ep)
}

func (s *Server) patchEndpoint(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := readJSON(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	p, err := parseEndpointPatch(v)
	if err != nil {
		return err
	}
	ep, err := s.store.UpdateEndpoint(r.Context(), env.ID, id, p, time.Now().UTC())
	if err != nil {
		return err
	}
	return s.writeEndpoint(w, r, ep)
}

func (s *Server) disableEndpoint(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	return s.switchEndpoint(w, r, env, false)
}

func (s *Server) enableEndpoint(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	return s.switchEndpoint(w, r, env, true)
}

// switchEndpoint disables (by hand) or enables the endpoint of the path,
// and logs, counts and announces (to the alert_url) the change when there
// was one. Enabling releases its held deliveries, and wakes the dispatcher
// for them.
func (s *Server) switchEndpoint(w http.ResponseWriter, r *http.Request, env *herald.Environment, enable bool) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	before, err := s.store.Endpoint(r.Context(), env.ID, id)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	var ep *herald.Endpoint
	released := 0
	if enable {
		ep, released, err = s.store.EnableEndpoint(r.Context(), env.ID, id, now)
	} else {
		ep, err = s.store.DisableEndpoint(r.Context(), env.ID, id, herald.DisabledManually, now)
	}
	if err != nil {
		return err
	}
	if released > 0 && s.cfg.Notify != nil {
		s.cfg.Notify()
	}
	switch {
	case enable && before.Disabled:
		s.cfg.Metrics.EndpointEvent(telemetry.EndpointEnabled, "")
		s.cfg.Alerts.Endpoint(alert.EndpointEnabled, *ep)
		s.log.Info("endpoint enabled", "environment_id", env.ID, "endpoint_id", ep.ID, "released_deliveries", released)
	case !enable && !before.Disabled:
		s.cfg.Metrics.EndpointEvent(telemetry.EndpointDisabled, herald.DisabledManually)
		s.cfg.Alerts.Endpoint(alert.EndpointDisabled, *ep)
		s.log.Info("endpoint disabled", "environment_id", env.ID, "endpoint_id", ep.ID, "reason", ep.DisabledReason)
	}
	return s.writeEndpoint(w, r, ep)
}

// parseEndpointPatch reads a PATCH /endpoints/{id} body: any of
// rate_limit_per_s, max_concurrency (an integer, or null to remove it) and
// headers (an object of strings, or null for none).
func parseEndpointPatch(v any) (herald.EndpointPatch, error) {
	var p herald.EndpointPatch
	obj, ok := v.(map[string]any)
	if !ok {
		return p, badBody("the body must be a JSON object")
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		val := obj[k]
		switch k {
		case "rate_limit_per_s":
			n, err := optionalInt(k, val, 1, maxEndpointRate)
			if err != nil {
				return p, err
			}
			p.SetRateLimit, p.RateLimitPerS = true, n
		case "max_concurrency":
			n, err := optionalInt(k, val, 1, maxEndpointConcurrency)
			if err != nil {
				return p, err
			}
			p.SetConcurrency, p.MaxConcurrency = true, n
		case "headers":
			h, err := staticHeaders(val)
			if err != nil {
				return p, err
			}
			p.SetHeaders, p.Headers = true, h
		default:
			return p, herald.Invalid(k, "unknown field: an endpoint has rate_limit_per_s, max_concurrency and headers")
		}
	}
	return p, nil
}

// optionalInt reads null (nil) or a whole number in [lo, hi].
func optionalInt(field string, v any, lo, hi int) (*int, error) {
	if v == nil {
		return nil, nil
	}
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) || f < float64(lo) || f > float64(hi) {
		return nil, herald.Invalid(field, "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi)+", or null")
	}
	n := int(f)
	return &n, nil
}

// staticHeaders reads an endpoint's static headers: null, or an object of
// at most maxEndpointHeaders string values, none of them a header herald
// sets itself.
func staticHeaders(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, herald.Invalid("headers", "must be an object of header names to string values, or null")
	}
	if len(obj) > maxEndpointHeaders {
		return nil, herald.Invalid("headers", "at most "+strconv.Itoa(maxEndpointHeaders)+" headers")
	}
	out := make(map[string]string, len(obj))
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		field := "headers." + name
		if !validHeaderName(name) {
			return nil, herald.Invalid(field, "not a valid header name")
		}
		canon := http.CanonicalHeaderKey(name)
		if herald.ReservedHeader(name) {
			return nil, herald.Invalid(field, "herald sets "+canon+" itself")
		}
		if seen[canon] {
			return nil, herald.Invalid(field, "named twice (header names are case-insensitive)")
		}
		seen[canon] = true
		s, ok := obj[name].(string)
		if !ok {
			return nil, herald.Invalid(field, "must be a string")
		}
		if len(s) > maxHeaderValue || strings.ContainsAny(s, "\r\n\x00") || herald.CheckText(field, s) != nil {
			return nil, herald.Invalid(field, "must be at most 4096 bytes of text without line breaks or NUL")
		}
		out[canon] = s
	}
	return out, nil
}

// validHeaderName reports whether name is an HTTP token (RFC 9110 §5.1).
func validHeaderName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
