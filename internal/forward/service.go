package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/intake"
)

// Config wires a Service.
type Config struct {
	// Store finds connections; pass the cached store.
	Store herald.Store
	// Intake stores each inbound webhook with its forwards.
	Intake *intake.Service
	// Now is the clock signatures' timestamps are checked against; nil:
	// time.Now.
	Now func() time.Time
}

// Service receives providers' webhooks: it verifies, routes and hands
// them to intake. It is safe for concurrent use.
type Service struct {
	cfg Config

	mu       sync.Mutex
	limiters map[limiterKey]*limiter
}

type limiterKey struct{ env, key string }

type limiter struct {
	perS int
	*rate.Limiter
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, limiters: make(map[limiterKey]*limiter)}
}

// Known reports whether name is a provider of the table.
func Known(name string) bool { _, ok := providers[name]; return ok }

// Allow takes one request from the inbound rate limit of an integration
// (per environment and integration, in this process: a token bucket of
// RateLimit() tokens a second, as many in a burst). When the bucket is
// empty it returns false and how long until a token is due.
func (s *Service) Allow(in *herald.Integration) (bool, time.Duration) {
	k := limiterKey{in.EnvironmentID, in.ProviderConfigKey}
	perS := in.RateLimit()
	s.mu.Lock()
	l := s.limiters[k]
	if l == nil || l.perS != perS {
		l = &limiter{perS: perS, Limiter: rate.NewLimiter(rate.Limit(perS), perS)}
		s.limiters[k] = l
	}
	s.mu.Unlock()
	now := s.cfg.Now()
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// RefusedError is a provider request refused for its signature: the API
// answers 401. It is logged (a skipped event) before it is returned.
type RefusedError struct {
	EventID string
	Reason  string
}

func (e *RefusedError) Error() string { return e.Reason }

// Receive handles one provider request for integration in of env: it
// verifies the signature, answers a handshake, routes the payload to
// connections and stores it with its forwards (intake.AcceptForward), then
// returns the answer for the provider. A refused signature is logged and
// returned as a *RefusedError; a body the provider's format cannot parse
// is an ErrorInvalid herald.Error.
func (s *Service) Receive(ctx context.Context, env *herald.Environment, in *herald.Integration, r *Request) (Answer, error) {
	p, ok := Lookup(in.Provider)
	if !ok {
		return Answer{}, fmt.Errorf("integration %q has provider %q, which is not in the table", in.ProviderConfigKey, in.Provider)
	}
	if r.Now.IsZero() {
		r.Now = s.cfg.Now()
	}
	log := inboundLog{Provider: p.Name, Method: r.Method, URL: r.URL, Headers: redacted(r.Header)}
	fwd := intake.Forward{Provider: p.Name, ProviderConfigKey: in.ProviderConfigKey}

	secret := secretFor(in, p.Secret)
	switch verdict, err := verify(p, in, r, secret); {
	case err != nil:
		log.Verification = verdict
		fwd.Skipped = intake.SkippedInvalidSignature
		fwd.Inbound = log.encode()
		rec, serr := s.cfg.Intake.AcceptForward(ctx, env, fwd)
		if serr != nil {
			return Answer{}, serr
		}
		return Answer{}, &RefusedError{EventID: rec.Event.ID, Reason: err.Error()}
	default:
		log.Verification = verdict
		log.Verified = verdict == verdictValid
	}

	parse := p.Parse
	if parse == nil {
		parse = ParseBody
	}
	payload, err := parse(r)
	if err != nil {
		return Answer{}, herald.Invalid("body", "not a "+p.Name+" webhook body: "+err.Error())
	}
	fwd.Payload = payload

	if p.Handshake != nil {
		if a, ok := p.Handshake(r, payload, secret); ok {
			fwd.Skipped = intake.SkippedHandshake
			fwd.Inbound = log.encode()
			if _, err := s.cfg.Intake.AcceptForward(ctx, env, fwd); err != nil {
				return Answer{}, err
			}
			return a, nil
		}
	}

	route := p.Route(r, payload)
	log.EventType = route.EventType
	if !in.ForwardWebhooks {
		fwd.Skipped = intake.SkippedForwardingOff
	} else if len(route.Keys) > 0 || len(route.ConnectionIDs) > 0 {
		conns, err := s.cfg.Store.MatchConnections(ctx, env.ID, in.ProviderConfigKey, route.Keys, route.ConnectionIDs)
		if err != nil {
			return Answer{}, err
		}
		fwd.Connections = conns
	}
	log.Connections = make([]string, 0, len(fwd.Connections))
	for _, c := range fwd.Connections {
		log.Connections = append(log.Connections, c.ConnectionID)
	}
	fwd.Headers = forwardedHeaders(r.Header)
	fwd.Inbound = log.encode()
	if _, err := s.cfg.Intake.AcceptForward(ctx, env, fwd); err != nil {
		return Answer{}, err
	}
	if route.Answer != nil {
		return *route.Answer, nil
	}
	return Success, nil
}

// Success is the usual answer to a provider: 200 {"status":"success"}.
var Success = Answer{Status: http.StatusOK, ContentType: "application/json", Body: []byte(`{"status":"success"}`)}

// Verification verdicts, as the inbound log writes them.
const (
	verdictValid     = "valid"
	verdictNoSecret  = "no secret configured"
	verdictUnsigned  = "unsigned"
	verdictNoScheme  = "provider does not sign"
	verdictNoSecretR = "refused: require_signature is set but no secret is configured"
)

// verify applies the provider's signature check and the integration's
// require_signature (SPEC §8): it returns the verdict for the log, and an
// error when the request must be refused.
func verify(p *Provider, in *herald.Integration, r *Request, secret string) (string, error) {
	if p.Verify == nil {
		return verdictNoScheme, nil
	}
	if secret == "" {
		if in.RequireSignature != nil && *in.RequireSignature {
			return verdictNoSecretR, errors.New("invalid signature: require_signature is set but no secret is configured")
		}
		return verdictNoSecret, nil
	}
	err := p.Verify(r, secret)
	switch {
	case err == nil:
		return verdictValid, nil
	case errors.Is(err, ErrNoSignature):
		if in.SignatureRequired() {
			return "refused: unsigned", errors.New("invalid signature: the request carries no signature")
		}
		return verdictUnsigned, nil
	default:
		var se *SignatureError
		if !errors.As(err, &se) {
			err = &SignatureError{Reason: err.Error()}
		}
		return "refused: " + err.Error(), err
	}
}

// secretFor picks the credential that verifies the provider's signatures.
func secretFor(in *herald.Integration, src SecretSource) string {
	switch src {
	case ClientSecret:
		return in.ClientSecret
	case WebhookOrClientSecret:
		if in.WebhookSecret != "" {
			return in.WebhookSecret
		}
		return in.ClientSecret
	}
	return in.WebhookSecret
}

// inboundLog is the log of one provider request (Event.Inbound).
type inboundLog struct {
	Provider     string            `json:"provider"`
	Method       string            `json:"method"`
	URL          string            `json:"url"`
	Headers      map[string]string `json:"headers"`
	Verified     bool              `json:"verified"`
	Verification string            `json:"verification"`
	EventType    string            `json:"event_type,omitempty"`
	Connections  []string          `json:"matched_connections"`
}

func (l *inboundLog) encode() []byte {
	if l.Connections == nil {
		l.Connections = []string{}
	}
	b, err := json.Marshal(l)
	if err != nil { // maps of strings always encode
		return nil
	}
	return b
}

// notForwarded lists the prefixes of header names that are not forwarded
// (SPEC §9, Nango's list).
var notForwarded = []string{"host", "authorization", "connection", "keep-alive", "content-length", "content-type",
	"content-encoding", "cookie", "set-cookie", "referer", "user-agent", "sec-", "proxy-", "www-authenticate", "server"}

// forwardedHeaders returns the provider's headers that go along with its
// forwards, lower-cased and minus the denied names, as a JSON object (nil
// for none). Repeated headers are joined with ", ", as Node does.
func forwardedHeaders(h http.Header) []byte {
	out := make(map[string]string, len(h))
	for name, vs := range h {
		lower := strings.ToLower(name)
		denied := false
		for _, p := range notForwarded {
			if strings.HasPrefix(lower, p) {
				denied = true
				break
			}
		}
		if !denied {
			out[lower] = strings.Join(vs, ", ")
		}
	}
	if len(out) == 0 {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil
	}
	return b
}

// secretHeaders are header names (or parts of names) whose values the
// inbound log does not keep.
var secretHeaders = []string{"authorization", "cookie", "api-key", "apikey", "token", "secret", "password"}

// redacted returns the request's headers for the log, lower-cased, with
// the values of credential-bearing headers replaced.
func redacted(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		lower := strings.ToLower(name)
		v := strings.Join(h[name], ", ")
		for _, s := range secretHeaders {
			if strings.Contains(lower, s) {
				v = "[redacted]"
				break
			}
		}
		out[lower] = v
	}
	return out
}
