package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/alert"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/forward"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/registry"
	"github.com/heraldhq/herald/internal/resend"
	"github.com/heraldhq/herald/internal/telemetry"
	"github.com/heraldhq/herald/internal/tracing"
)

// Request size limits (docs/events.md).
const (
	MaxEventBody = 1 << 20
	MaxBatchBody = 8 << 20
	MaxBatch     = 1000
	maxAdminBody = 64 << 10
)

// Config wires a Server.
type Config struct {
	Store  herald.Store
	Intake *intake.Service
	// AdminKeyHashes are the SHA-256 hashes of the valid admin keys (the
	// configured one, and one that serve --dev created); none: admin
	// routes answer 401.
	AdminKeyHashes [][]byte
	// Environments owns the tenants: authentication, creation, settings,
	// key rotation.
	Environments *environments.Service
	// Registry owns integrations and connections.
	Registry *registry.Service
	// Forward receives providers' webhooks.
	Forward *forward.Service
	// Resend retries, recovers and replays.
	Resend *resend.Service
	Logger *slog.Logger
	// BodyBudget is how many bytes of request bodies may be held in memory
	// at once, across all requests; a body that does not fit in what is
	// left is answered 503 unavailable with Retry-After: 1. 0:
	// DefaultBodyBudget.
	BodyBudget int64
	// Tracing traces the requests that accept events (docs/running.md,
	// Traces); nil: none.
	Tracing *tracing.Tracing
	// Notify tells the dispatcher that deliveries became due (an endpoint
	// enabled releases its held ones); nil: nothing to tell.
	Notify func()
	// Metrics counts endpoints disabled and enabled through the API; nil:
	// not counted.
	Metrics *telemetry.Metrics
	// Alerts sends endpoint.disabled and endpoint.enabled to the
	// environment's alert_url when an endpoint is switched through the
	// API; nil: none sent.
	Alerts *alert.Notifier
	// EndpointConcurrency is the dispatcher's attempts in flight per URL,
	// shown as the concurrency of an endpoint without a limit of its own;
	// 0: the dispatcher's default, 32.
	EndpointConcurrency int
}

// Server is the HTTP API.
type Server struct {
	cfg   Config
	store herald.Store
	log   *slog.Logger
	mux   *http.ServeMux
	// batches bounds how many batch bodies (up to 8 MiB each, several
	// times that once parsed) are parsed and stored at once, so memory
	// stays bounded however many producers post batches together. A slot
	// is taken only once the body is read: a slow upload holds none.
	batches chan struct{}
	// budget bounds the request-body bytes held in memory (limits.go).
	budget *bodyBudget
	// routes are the patterns registered on mux, in order (routes.go).
	routes []string
}

// concurrentBatches is how many POST /events/batch bodies are parsed at
// once: one per CPU keeps every core busy, more only holds more memory.
var concurrentBatches = max(2, runtime.GOMAXPROCS(0))

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, mux: http.NewServeMux(),
		batches: make(chan struct{}, concurrentBatches), budget: newBodyBudget(cfg.BodyBudget)}
	m := routeMux{s}
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)
	m.HandleFunc("GET /openapi.yaml", s.openAPI)

	m.HandleFunc("POST /admin/environments", s.admin(s.createEnvironment))
	m.HandleFunc("GET /admin/environments", s.admin(s.listEnvironments))
	m.HandleFunc("DELETE /admin/environments/{id}", s.admin(s.deleteEnvironment))

	m.HandleFunc("GET /environment", s.env(s.getEnvironment))
	m.HandleFunc("PATCH /environment/webhook", s.env(s.patchWebhookSettings))
	m.HandleFunc("POST /environment/webhook-signing-key/rotate", s.env(s.rotateSigningKey))
	m.HandleFunc("GET /environment/otlp", s.env(s.getOTLP))
	m.HandleFunc("PATCH /environment/otlp", s.env(s.patchOTLP))

	m.HandleFunc("POST /events", s.env(s.postEvent))
	m.HandleFunc("POST /events/batch", s.env(s.postEventBatch))
	m.HandleFunc("GET /events", s.env(s.listEvents))
	m.HandleFunc("GET /events/{id}", s.env(s.getEvent))
	m.HandleFunc("POST /events/{id}/replay", s.env(s.replayEvent))
	m.HandleFunc("POST /events/replay", s.env(s.replayEvents))

	m.HandleFunc("GET /integrations", s.env(s.listIntegrations))
	m.HandleFunc("PUT /integrations/{providerConfigKey}", s.env(s.putIntegration))
	m.HandleFunc("GET /integrations/{providerConfigKey}", s.env(s.getIntegration))
	m.HandleFunc("DELETE /integrations/{providerConfigKey}", s.env(s.deleteIntegration))
	m.HandleFunc("GET /connections", s.env(s.listConnections))
	m.HandleFunc("PUT /connections/{providerConfigKey}/{connectionId}", s.env(s.putConnection))
	m.HandleFunc("GET /connections/{providerConfigKey}/{connectionId}", s.env(s.getConnection))
	m.HandleFunc("DELETE /connections/{providerConfigKey}/{connectionId}", s.env(s.deleteConnection))

	m.HandleFunc("POST /webhook/{environmentId}/{providerConfigKey}", s.public(s.inboundWebhook))

	m.HandleFunc("GET /deliveries", s.env(s.listDeliveries))
	m.HandleFunc("GET /deliveries/{id}", s.env(s.getDelivery))
	m.HandleFunc("POST /deliveries/{id}/retry", s.env(s.retryDelivery))
	m.HandleFunc("POST /deliveries/recover", s.env(s.recoverDeliveries))

	m.HandleFunc("GET /endpoints", s.env(s.listEndpoints))
	m.HandleFunc("GET /endpoints/{id}", s.env(s.getEndpoint))
	m.HandleFunc("PATCH /endpoints/{id}", s.env(s.patchEndpoint))
	m.HandleFunc("POST /endpoints/{id}/enable", s.env(s.enableEndpoint))
	m.HandleFunc("POST /endpoints/{id}/disable", s.env(s.disableEndpoint))
	return s
}

// Mount adds the handler of another part of herald (a console, /metrics)
// to the one root mux, so that every route shares the error envelope for
// unknown routes and the panic guard.
func (s *Server) Mount(pattern string, h http.Handler) { s.handle(pattern, h) }

// ServeHTTP routes a request; panics become 500 server_error. The body
// bytes the request took from the budget are given back when it returns.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, release := s.budget.withCharge(r)
	defer release()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.writeError(w, r, errors.New("panic"))
		}
	}()
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		w = &jsonErrorWriter{ResponseWriter: w}
	}
	w, r, endSpan := s.cfg.Tracing.StartRequest(w, r, pattern)
	defer endSpan()
	s.mux.ServeHTTP(w, r)
}

type envHandler func(w http.ResponseWriter, r *http.Request, env *herald.Environment) error

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

func unauthorized(msg string) *apiError { return errf(http.StatusUnauthorized, CodeUnauthorized, msg) }

// admin requires the admin key, compared in constant time.
func (s *Server) admin(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(s.cfg.AdminKeyHashes) == 0 {
			s.writeError(w, r, unauthorized("admin routes are disabled: start herald with --admin-key or HERALD_ADMIN_KEY"))
			return
		}
		key, ok := bearer(r)
		sum := sha256.Sum256([]byte(key))
		valid := 0
		for _, h := range s.cfg.AdminKeyHashes {
			valid |= subtle.ConstantTimeCompare(sum[:], h)
		}
		if !ok || valid != 1 {
			s.writeError(w, r, unauthorized("missing or invalid admin key"))
			return
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// public serves a route that takes no key.
func (s *Server) public(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// env requires an environment's secret key and passes that environment.
func (s *Server) env(h envHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok {
			s.writeError(w, r, unauthorized("missing bearer secret key"))
			return
		}
		env, err := s.cfg.Environments.Authenticate(r.Context(), key)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := h(w, r, env); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// readJSON reads and parses a JSON body the way JSON.parse does.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) (any, error) {
	b, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	return parseJSON(b)
}

// parseJSON parses a request body the way JSON.parse does.
func parseJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, badBody("request body is empty")
	}
	v, err := canonjson.Parse(b)
	if err != nil {
		return nil, badBody("malformed JSON: " + err.Error())
	}
	return v, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.writeError(w, r, &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable, msg: "database unavailable", retryAfter: 1})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// timestamp formats t as the API writes times: RFC 3339 UTC with milliseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func timestampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timestamp(*t)
	return &s
}
