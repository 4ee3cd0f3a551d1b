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

// Dispatcher is what intake needs of the delivery side: fresh deliveries
// go straight to their lanes when there is room (Reserve before the
// commit, then Start or Cancel), and Notify wakes the claimer for those
// stored pending.
type Dispatcher interface {
	Reserve(url string) (leaseUntil time.Time, ok bool)
	Cancel(url string)
	Start(job herald.Job)
	Notify()
}

// Service accepts events for an environment.
type Service struct {
	Store      herald.Store
	Dispatcher Dispatcher
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

// Accept stores hooks for env and returns the 202 body: one Result for a
// single event, {"results":[…]} for a batch. A repeated idempotencyKey
// returns the first answer and stores nothing.
func (s *Service) Accept(ctx context.Context, env *herald.Environment, idempotencyKey string, hooks []nango.Webhook, batch bool) ([]byte, error) {
	now := time.Now().UTC()
	events := make([]herald.NewEvent, 0, len(hooks))
	results := make([]Result, 0, len(hooks))
	gates := GateSettings(env.Settings)
	urls := env.Settings.URLs()
	pending := 0
	var reserved []herald.Job // deliveries stored claimed, for Start after the commit
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
			ProviderConfigKey: pck, Body: body, UnknownFields: nango.UnknownFields(h), CreatedAt: now}
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
				if lease, ok := s.Dispatcher.Reserve(u); ok {
					d.Status, d.LeaseUntil = herald.StatusSending, &lease
					reserved = append(reserved, herald.Job{DeliveryID: d.ID, EventID: ev.ID, EnvironmentID: env.ID, URL: u, Body: body})
				} else {
					pending++
				}
				ds = append(ds, d)
				res.Deliveries = append(res.Deliveries, DeliveryRef{ID: d.ID, URL: u})
			}
		}
		if ev.Skipped != "" {
			reason := ev.Skipped
			res.Skipped = &reason
		}
		events = append(events, herald.NewEvent{Event: ev, Deliveries: ds})
		results = append(results, res)
	}
	stored := false
	defer func() {
		if !stored {
			for _, j := range reserved {
				s.Dispatcher.Cancel(j.URL)
			}
		}
	}()
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
	stored = true
	for _, j := range reserved {
		s.Dispatcher.Start(j)
	}
	if pending > 0 {
		s.Dispatcher.Notify()
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
