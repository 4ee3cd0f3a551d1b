package forward

import (
	"errors"
	"net/http"
	"sort"
	"time"

	herald "github.com/heraldhq/herald"
)

// Request is a provider's webhook request as herald received it.
type Request struct {
	Method string
	// URL is the address the provider called, scheme and host included
	// (https://herald.example.com/webhook/…?query), for signatures that
	// cover it (HubSpot v3).
	URL    string
	Header http.Header
	// Body is the raw body, exactly as received.
	Body []byte
	// Now is the clock timestamps are checked against.
	Now time.Time
}

// SecretSource says which of an integration's credentials verifies a
// provider's signatures (SPEC §8).
type SecretSource int

// Secret sources.
const (
	// WebhookSecret: credentials.webhook_secret.
	WebhookSecret SecretSource = iota
	// ClientSecret: credentials.client_secret (the OAuth app's secret).
	ClientSecret
	// WebhookOrClientSecret: webhook_secret when set, else client_secret.
	WebhookOrClientSecret
)

// Answer is what herald answers a provider.
type Answer struct {
	Status      int
	ContentType string // "" with an empty Body
	Body        []byte
}

// Route says where a provider's webhook goes.
type Route struct {
	// Keys finds connections by a value of their connection_config or
	// metadata: a connection that has any of them matches.
	Keys []herald.ConnectionKey
	// ConnectionIDs names connections directly (the unauthenticated
	// provider's connectionId).
	ConnectionIDs []string
	// EventType is the provider's name for what happened (GitHub's
	// X-GitHub-Event, Stripe's type, …), kept in the inbound log; "" when
	// the provider has none.
	EventType string
	// Answer replaces the usual 200 {"status":"success"} for this
	// webhook (Slack's view_submission wants an empty 200); nil: usual.
	Answer *Answer
}

// Provider is one entry of the forwarding table: how a provider signs its
// webhooks, answers its handshakes, and which connection a webhook is for.
// Each lives in its own file and registers itself in providers.
type Provider struct {
	// Name is the integration's provider ("hubspot").
	Name string
	// Secret is the credential Verify is called with.
	Secret SecretSource
	// Verify checks r's signature with secret, which is never empty. It
	// returns nil, ErrNoSignature when r carries none of the provider's
	// signature headers, or another error (a *SignatureError) for a
	// signature that is wrong, malformed or outside its time tolerance.
	// nil Verify: the provider does not sign its webhooks.
	Verify func(r *Request, secret string) error
	// Parse turns the body into the payload forwarded; nil: JSON, or a
	// form-encoded body as an object of its fields (ParseBody).
	Parse func(r *Request) (any, error)
	// Handshake answers a provider's own verification request, which is
	// answered and logged but never forwarded; ok is false when payload is
	// not one. secret is "" when none is configured. nil: no handshake.
	Handshake func(r *Request, payload any, secret string) (a Answer, ok bool)
	// Route finds what payload is about.
	Route func(r *Request, payload any) Route
}

// ErrNoSignature is returned by Verify for a request that carries no
// signature.
var ErrNoSignature = errors.New("no signature")

// SignatureError is a signature that does not verify.
type SignatureError struct {
	// Reason says why, for the inbound log and the 401 message: "mismatch",
	// "expired timestamp", "malformed header", ….
	Reason string
}

func (e *SignatureError) Error() string { return "invalid signature: " + e.Reason }

// Mismatch, Expired and Malformed build the usual SignatureErrors.
func Mismatch() error             { return &SignatureError{Reason: "signature mismatch"} }
func Expired() error              { return &SignatureError{Reason: "timestamp outside the tolerance"} }
func Malformed(what string) error { return &SignatureError{Reason: "malformed " + what} }

// providers is the table, filled by each provider's file in its init.
var providers = map[string]*Provider{}

func register(p *Provider) {
	if _, dup := providers[p.Name]; dup {
		panic("forward: provider registered twice: " + p.Name)
	}
	providers[p.Name] = p
}

// Lookup returns the provider named name.
func Lookup(name string) (*Provider, bool) {
	p, ok := providers[name]
	return p, ok
}

// Names lists the providers in the table, sorted.
func Names() []string {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
