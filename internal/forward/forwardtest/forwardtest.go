// Package forwardtest holds realistic, correctly signed webhooks of every
// forwarding provider, built as each provider documents its signatures, for
// the tests of the inbound path at every level (provider, API, binary).
package forwardtest

import (
	"net/http"
	"sort"
	"time"
)

// Sample is one provider webhook, ready to post to
// /webhook/{environmentId}/{providerConfigKey}.
type Sample struct {
	Provider string
	// Credentials are the integration's credentials the sample is signed
	// with, by their SPEC §8 names ("webhook_secret", "client_secret").
	Credentials map[string]string
	// Query is the raw query string to call with ("" for none).
	Query  string
	Header http.Header
	Body   []byte
	// ConnectionConfig and Metadata, set on a registered connection, make
	// the payload route to it.
	ConnectionConfig map[string]any
	Metadata         map[string]any
	// Payload is the canonical JSON of the payload herald forwards (the
	// body parsed as JSON.parse does, written as Nango's stringifyStable).
	Payload []byte
	// Timestamped is set when the signature covers a timestamp checked
	// against a tolerance, so that a sample signed long ago is refused.
	Timestamped bool
}

// Builder signs a sample for the full URL herald is called at (scheme,
// host, path and query: HubSpot v3 signs it) at the time signedAt.
type Builder func(url string, signedAt time.Time) Sample

// Handshake is a provider's verification request and herald's answer.
type Handshake struct {
	Sample
	Status      int
	ContentType string
	// Answer is the exact answer body expected; nil: not checked.
	Answer []byte
}

// HandshakeBuilder builds a provider's handshake request like Builder.
type HandshakeBuilder func(url string, signedAt time.Time) Handshake

var (
	samples    = map[string]Builder{}
	handshakes = map[string]HandshakeBuilder{}
)

func register(name string, b Builder) { samples[name] = b }

func registerHandshake(name string, b HandshakeBuilder) { handshakes[name] = b }

// Samples returns the sample builders by provider name.
func Samples() map[string]Builder { return samples }

// Handshakes returns the handshake builders by provider name.
func Handshakes() map[string]HandshakeBuilder { return handshakes }

// Names lists the providers with a sample, sorted.
func Names() []string {
	out := make([]string, 0, len(samples))
	for n := range samples {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
