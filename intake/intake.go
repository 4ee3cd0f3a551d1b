// Package intake turns validated webhook bodies into stored events and
// deliveries: it computes the canonical bytes, applies the environment's
// gates, picks the target URLs, and stores everything in one transaction
// together with the answer for the Idempotency-Key.
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

// Service accepts events for an environment.
type Service struct {
	Store herald.Store
	// Notify is called after a commit that created deliveries.
	Notify func()
}

// Result is the answer for one event (SPEC §5).
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

// Accept stores hooks for env and returns the 202 body: one Result for a
// single event, {"results":[…]} for a batch. A repeated idempotencyKey
// returns the first answer and stores nothing.
func (s *Service) Accept(ctx context.Context, env *herald.Environment, idempotencyKey string, hooks []nango.Webhook, batch bool) ([]byte, error) {
	now := time.Now().UTC()
	events := make([]herald.NewEvent, 0, len(hooks))
	results := make([]Result, 0, len(hooks))
	gates := GateSettings(env.Settings)
	urls := env.Settings.URLs()
	deliveries := 0
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
			ProviderConfigKey: pck, Body: body, CreatedAt: now}
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
				d := herald.Delivery{ID: did.String(), EventID: ev.ID, EnvironmentID: env.ID, Type: ev.Type, ConnectionID: conn,
					ProviderConfigKey: pck, URL: u, Status: herald.StatusPending, CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now}
				ds = append(ds, d)
				res.Deliveries = append(res.Deliveries, DeliveryRef{ID: d.ID, URL: u})
			}
			deliveries += len(ds)
		}
		if ev.Skipped != "" {
			reason := ev.Skipped
			res.Skipped = &reason
		}
		events = append(events, herald.NewEvent{Event: ev, Deliveries: ds})
		results = append(results, res)
	}
	var answer []byte
	var err error
	if batch {
		answer, err = json.Marshal(struct {
			Results []Result `json:"results"`
		}{results})
	} else {
		answer, err = json.Marshal(results[0])
	}
	if err != nil {
		return nil, err
	}
	replay, err := s.Store.Ingest(ctx, herald.IngestRequest{EnvironmentID: env.ID, IdempotencyKey: idempotencyKey,
		Response: answer, Events: events, Now: now})
	if err != nil {
		return nil, err
	}
	if replay != nil {
		return replay, nil
	}
	if deliveries > 0 && s.Notify != nil {
		s.Notify()
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
