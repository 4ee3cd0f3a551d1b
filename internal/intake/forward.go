package intake

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/nango"
)

// Skip reasons of inbound provider webhooks (docs/forwarding.md).
const (
	SkippedHandshake        = "handshake"
	SkippedForwardingOff    = "forward_webhooks_disabled"
	SkippedInvalidSignature = "invalid_signature"
)

// Forward is one provider webhook, verified and routed by internal/forward,
// to be stored with the forwards it produces.
type Forward struct {
	// Provider is the integration's provider: the forward body's "from".
	Provider          string
	ProviderConfigKey string
	// Payload is the provider's body as JSON.parse reads it.
	Payload any
	// Connections are the matched connections, each once.
	Connections []herald.Connection
	// Headers are the provider's headers to forward (Event.Headers).
	Headers []byte
	// Inbound is the log of the provider's request (Event.Inbound).
	Inbound []byte
	// Skipped, when set, logs the request without forwarding it: a
	// handshake, a refused signature, forwarding turned off.
	Skipped string
}

// AcceptForward stores one provider webhook as a forward event, with one
// delivery per target URL of each matched connection, carrying Nango's
// forward body for that connection, or, when no connection matched, the
// payload itself, unwrapped, to the environment's URLs (SPEC §9). Event and
// deliveries are stored in one transaction before it returns: once the
// provider is answered, nothing is lost.
func (s *Service) AcceptForward(ctx context.Context, env *herald.Environment, f Forward) (*herald.EventRecord, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC()
	payload, err := canonjson.Marshal(f.Payload)
	if err != nil {
		return nil, fmt.Errorf("canonical payload: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	ev := herald.Event{ID: id.String(), EnvironmentID: env.ID, Type: string(nango.TypeForward),
		ProviderConfigKey: f.ProviderConfigKey, Body: payload, Headers: f.Headers, Inbound: f.Inbound,
		Skipped: f.Skipped, CreatedAt: at}
	if len(f.Connections) == 1 {
		ev.ConnectionID = f.Connections[0].ConnectionID
	}
	rec := herald.EventRecord{Event: ev}
	if f.Skipped == "" {
		if rec.Deliveries, err = forwards(env, f, &rec.Event, payload, at); err != nil {
			return nil, err
		}
		if len(rec.Deliveries) == 0 {
			rec.Event.Skipped = SkippedNoURL
		}
		if len(f.Connections) == 1 {
			// One connection: every delivery sends its forward body, which
			// is then the event's body, stored once.
			for i := range rec.Deliveries {
				rec.Event.Body, rec.Deliveries[i].Body = rec.Deliveries[i].Body, nil
			}
		}
	}
	if _, err := s.commit(ctx, herald.IngestRequest{EnvironmentID: env.ID, Events: []herald.EventRecord{rec}, Now: at}); err != nil {
		return nil, err
	}
	return &rec, nil
}

// forwards builds the deliveries of a forward event: one per URL of each
// matched connection (its override, or the environment's URLs) with the
// connection's forward body, or the unwrapped payload to the environment's
// URLs when none matched.
func forwards(env *herald.Environment, f Forward, ev *herald.Event, payload []byte, at time.Time) ([]herald.Delivery, error) {
	var ds []herald.Delivery
	add := func(conn, url string, body []byte) error {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		ds = append(ds, herald.Delivery{ID: id.String(), EventID: ev.ID, EnvironmentID: env.ID, Type: ev.Type,
			ConnectionID: conn, ProviderConfigKey: f.ProviderConfigKey, URL: url, Status: herald.StatusPending,
			CreatedAt: at, UpdatedAt: at, NextAttemptAt: &at, Body: body})
		return nil
	}
	urls := env.Settings.URLs()
	if len(f.Connections) == 0 {
		for _, u := range urls {
			if err := add("", u, nil); err != nil {
				return nil, err
			}
		}
		return ds, nil
	}
	for _, c := range f.Connections {
		body := forwardBody(f.Provider, f.ProviderConfigKey, c.ConnectionID, payload)
		targets := urls
		if c.WebhookURLOverride != "" {
			targets = []string{c.WebhookURLOverride}
		}
		for _, u := range targets {
			if err := add(c.ConnectionID, u, body); err != nil {
				return nil, err
			}
		}
	}
	return ds, nil
}

// forwardBody writes Nango's forward body for one connection, keys in
// canonical order, around the payload's canonical bytes (not encoded again):
// {"connectionId","from","payload","providerConfigKey","type":"forward"}.
func forwardBody(provider, providerConfigKey, connectionID string, payload []byte) []byte {
	b := make([]byte, 0, len(payload)+len(provider)+len(providerConfigKey)+len(connectionID)+96)
	b = append(b, `{"connectionId":`...)
	b = canonjson.AppendString(b, connectionID)
	b = append(b, `,"from":`...)
	b = canonjson.AppendString(b, provider)
	b = append(b, `,"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"providerConfigKey":`...)
	b = canonjson.AppendString(b, providerConfigKey)
	return append(b, `,"type":"forward"}`...)
}
