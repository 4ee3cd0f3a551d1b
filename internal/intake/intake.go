package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
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
// strict_validation refuses them. Errors are *nango.ValidationError.
func Parse(env *herald.Environment, v any) (nango.Webhook, error) {
	hook, err := nango.FromValue(v)
	if err != nil {
		return nil, err
	}
	if env.Settings.StrictValidation {
		if unknown := nango.UnknownFields(hook); len(unknown) > 0 {
			return nil, &nango.ValidationError{Field: unknown[0], Msg: "unknown field (strict_validation is on)"}
		}
	}
	return hook, nil
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
	urls := env.Settings.URLs()
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
	var replay []byte
	err = s.Dispatcher.Submit(events, func() (bool, error) {
		var err error
		replay, err = s.Store.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, IdempotencyKey: idempotencyKey,
			Response: answer, Events: events, Now: at})
		return err == nil && replay == nil, err
	})
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return replay, nil
	}
	return answer, nil
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
