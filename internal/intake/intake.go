package intake

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/telemetry"
	"github.com/heraldhq/herald/internal/tracing"
	"github.com/heraldhq/herald/nango"
)

// SkippedNoURL is the skip reason when the environment has no webhook URL.
const SkippedNoURL = "no_webhook_url"

// Dispatcher is what intake needs of the delivery side: Submit stores the
// events through commit and hands their fresh deliveries to their lanes
// (see dispatch.Dispatcher.Submit).
type Dispatcher interface {
	Submit(events []herald.EventRecord, commit func() (stored bool, err error)) error
}

// Service accepts events for an environment.
type Service struct {
	Store      herald.Store
	Dispatcher Dispatcher
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Metrics counts the events stored; nil: none.
	Metrics *telemetry.Metrics
}

// Result is the answer for one event (docs/events.md).
type Result struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	Deliveries []DeliveryRef `json:"deliveries"`
	Skipped    *string       `json:"skipped"`
}

// DeliveryRef names one delivery created for an event.
type DeliveryRef struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// Parse validates one event body, parsed as JSON.parse does, for env.
// Fields Nango's types do not declare are kept, unless the environment's
// strict_validation refuses them. Identifier-like strings (connectionId,
// providerConfigKey, syncName, …) must pass herald.CheckText: no NUL, valid
// UTF-8 (no lone surrogate). Errors are *nango.ValidationError.
func Parse(env *herald.Environment, v any) (nango.Webhook, error) {
	hook, err := nango.FromValue(v)
	if err != nil {
		return nil, err
	}
	if err := checkTexts(hook); err != nil {
		return nil, err
	}
	if env.Settings.StrictValidation {
		if unknown := nango.UnknownFields(hook); len(unknown) > 0 {
			return nil, &nango.ValidationError{Field: unknown[0], Msg: "unknown field (strict_validation is on)"}
		}
	}
	return hook, nil
}

// textFields lists the identifier-like strings of hook, by field path:
// those herald stores as text or could filter on. Free-form parts (a
// forward payload, error payloads, checkpoint contents, unknown fields'
// values) are not listed: they travel only inside the canonical body,
// where JSON escapes keep any string intact.
func textFields(hook nango.Webhook) [][2]string {
	switch w := hook.(type) {
	case *nango.AuthWebhook:
		return [][2]string{{"from", w.From}, {"connectionId", w.ConnectionID}, {"providerConfigKey", w.ProviderConfigKey},
			{"authMode", w.AuthMode}, {"provider", w.Provider}, {"environment", w.Environment}, {"operation", w.Operation}}
	case *nango.SyncWebhook:
		return [][2]string{{"from", w.From}, {"connectionId", w.ConnectionID}, {"providerConfigKey", w.ProviderConfigKey},
			{"syncName", w.SyncName}, {"syncVariant", w.SyncVariant}, {"model", w.Model}, {"syncType", w.SyncType}}
	case *nango.AsyncActionWebhook:
		return [][2]string{{"from", w.From}, {"connectionId", w.ConnectionID}, {"providerConfigKey", w.ProviderConfigKey},
			{"payload.id", w.Payload.ID}, {"payload.statusUrl", w.Payload.StatusURL}}
	case *nango.ForwardWebhook:
		return [][2]string{{"from", w.From}, {"connectionId", w.ConnectionID}, {"providerConfigKey", w.ProviderConfigKey}}
	}
	return nil
}

// checkTexts applies herald.CheckText to every identifier-like string of
// hook, so that no store ever sees a NUL or ill-formed UTF-8 there.
func checkTexts(hook nango.Webhook) error {
	for _, f := range textFields(hook) {
		if err := herald.CheckText(f[0], f[1]); err != nil {
			var he *herald.Error
			if errors.As(err, &he) {
				return &nango.ValidationError{Field: he.Field, Msg: he.Message}
			}
			return &nango.ValidationError{Field: f[0], Msg: err.Error()}
		}
	}
	return nil
}

// AcceptEvent stores one event for env and returns the 202 body, a Result.
// A repeated idempotencyKey returns the first answer and stores nothing.
func (s *Service) AcceptEvent(ctx context.Context, env *herald.Environment, idempotencyKey string, hook nango.Webhook) ([]byte, error) {
	return s.accept(ctx, env, idempotencyKey, []nango.Webhook{hook}, func(rs []Result) any { return rs[0] })
}

// AcceptBatch stores hooks for env, all or nothing, and returns the 202
// body, {"results":[…]} in order.
func (s *Service) AcceptBatch(ctx context.Context, env *herald.Environment, idempotencyKey string, hooks []nango.Webhook) ([]byte, error) {
	return s.accept(ctx, env, idempotencyKey, hooks, func(rs []Result) any {
		return struct {
			Results []Result `json:"results"`
		}{rs}
	})
}

func (s *Service) accept(ctx context.Context, env *herald.Environment, idempotencyKey string, hooks []nango.Webhook,
	shape func([]Result) any) ([]byte, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC()
	events := make([]herald.EventRecord, 0, len(hooks))
	results := make([]Result, 0, len(hooks))
	gates := GateSettings(env.Settings)
	targets, err := s.targets(ctx, env, hooks)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		body, err := h.Canonical()
		if err != nil {
			return nil, fmt.Errorf("canonical body: %w", err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		conn, pck := h.ConnectionRef()
		ev := herald.Event{ID: id.String(), EnvironmentID: env.ID, Type: string(h.WebhookType()), ConnectionID: conn,
			ProviderConfigKey: pck, Body: body, UnknownFields: nango.UnknownFields(h), CreatedAt: at}
		res := Result{ID: ev.ID, Type: ev.Type, Deliveries: []DeliveryRef{}}
		var ds []herald.Delivery
		urls := targets(conn, pck)
		if send, reason := nango.Gate(gates, h); !send {
			ev.Skipped = reason
		} else if len(urls) == 0 {
			ev.Skipped = SkippedNoURL
		} else {
			for _, u := range urls {
				did, err := uuid.NewV7()
				if err != nil {
					return nil, err
				}
				ds = append(ds, herald.Delivery{ID: did.String(), EventID: ev.ID, EnvironmentID: env.ID, Type: ev.Type,
					ConnectionID: conn, ProviderConfigKey: pck, URL: u, Status: herald.StatusPending, CreatedAt: at,
					UpdatedAt: at, NextAttemptAt: &at})
				res.Deliveries = append(res.Deliveries, DeliveryRef{ID: did.String(), URL: u})
			}
		}
		if ev.Skipped != "" {
			reason := ev.Skipped
			res.Skipped = &reason
		}
		events = append(events, herald.EventRecord{Event: ev, Deliveries: ds})
		results = append(results, res)
	}
	answer, err := json.Marshal(shape(results))
	if err != nil {
		return nil, err
	}
	var hash []byte
	if idempotencyKey != "" {
		hash = requestHash(events)
	}
	replay, err := s.commit(ctx, herald.IngestRequest{EnvironmentID: env.ID, IdempotencyKey: idempotencyKey,
		RequestHash: hash, Response: answer, Events: events, Now: at})
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return replay, nil
	}
	return answer, nil
}

// commit stores req through the dispatcher, which starts the fresh
// deliveries once they are stored; replay is the first answer of a
// repeated Idempotency-Key.
func (s *Service) commit(ctx context.Context, req herald.IngestRequest) (replay []byte, err error) {
	// The request span's context goes with the events to their attempts.
	if tp := tracing.TraceParent(ctx); tp != "" {
		for i := range req.Events {
			req.Events[i].Event.TraceParent = tp
		}
	}
	tracing.Accepted(ctx, req.EnvironmentID, req.Events)
	err = s.Dispatcher.Submit(req.Events, func() (bool, error) {
		var err error
		replay, err = s.Store.Ingest(ctx, req)
		return err == nil && replay == nil, err
	})
	if err == nil && replay == nil {
		s.Metrics.EventsStored(req.Events)
	}
	return replay, err
}

// targets returns, for hooks, the function that gives the URLs a webhook
// about one connection goes to (Targets).
func (s *Service) targets(ctx context.Context, env *herald.Environment, hooks []nango.Webhook) (func(conn, pck string) []string, error) {
	if !env.HasURLOverrides {
		// Every webhook goes to the environment's URLs: no refs to list.
		return Targets(ctx, s.Store, env, nil)
	}
	refs := make([]herald.ConnectionRef, 0, len(hooks))
	for _, h := range hooks {
		conn, pck := h.ConnectionRef()
		refs = append(refs, herald.ConnectionRef{ProviderConfigKey: pck, ConnectionID: conn})
	}
	return Targets(ctx, s.Store, env, refs)
}

// Targets returns the function that gives the URLs a webhook about one of
// refs goes to: its connection's webhook_url_override when it has one
// (SPEC §5: the secondary URL is then not used), else env's URLs.
// Overrides are looked up, in one read, only when env has any.
func Targets(ctx context.Context, store herald.Store, env *herald.Environment, refs []herald.ConnectionRef) (func(conn, pck string) []string, error) {
	urls := env.Settings.URLs()
	if !env.HasURLOverrides {
		return func(string, string) []string { return urls }, nil
	}
	named := refs[:0:0]
	for _, r := range refs {
		if r.ConnectionID != "" {
			named = append(named, r)
		}
	}
	overrides, err := store.URLOverrides(ctx, env.ID, named)
	if err != nil {
		return nil, err
	}
	return func(conn, pck string) []string {
		if u, ok := overrides[herald.ConnectionRef{ProviderConfigKey: pck, ConnectionID: conn}]; ok && conn != "" {
			return []string{u}
		}
		return urls
	}, nil
}

// requestHash identifies what a request sent: the canonical bodies of its
// events, in order, each prefixed by its length. Key order and whitespace do
// not matter; any change of a value does.
func requestHash(events []herald.EventRecord) []byte {
	h := sha256.New()
	var n [8]byte
	for _, e := range events {
		binary.BigEndian.PutUint64(n[:], uint64(len(e.Event.Body)))
		h.Write(n[:])
		h.Write(e.Event.Body)
	}
	return h.Sum(nil)
}

// GateSettings are the settings' toggles in the form nango.Gate takes.
func GateSettings(s herald.Settings) nango.GateSettings {
	return nango.GateSettings{
		OnAuthCreation:          s.OnAuthCreation,
		OnAuthRefreshError:      s.OnAuthRefreshError,
		OnSyncError:             s.OnSyncError,
		OnSyncCompletionAlways:  s.OnSyncCompletionAlways,
		OnAsyncActionCompletion: s.OnAsyncActionCompletion,
		OnConnectionDeletion:    s.OnConnectionDeletion,
	}
}
