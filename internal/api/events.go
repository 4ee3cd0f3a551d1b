package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/nango"
)

const maxIdempotencyKey = 255

// idempotencyKey reads the Idempotency-Key header, scoped to the route
// (scope), so that a key used for a single event and for a batch never
// replays the other route's answer.
func idempotencyKey(r *http.Request, scope string) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if len(k) > maxIdempotencyKey {
		return "", errf(http.StatusBadRequest, CodeInvalidBody, fmt.Sprintf("Idempotency-Key: at most %d characters", maxIdempotencyKey))
	}
	if err := herald.CheckText("Idempotency-Key", k); err != nil {
		return "", badBody(err.Error())
	}
	if k == "" {
		return "", nil
	}
	return scope + ":" + k, nil
}

// validationMessage names the field of a body validation error, with
// prefix (such as "events[3].") before it.
func validationMessage(prefix string, err error) *apiError {
	var ve *nango.ValidationError
	if errors.As(err, &ve) {
		field := prefix + ve.Field
		if ve.Field == "" || ve.Field == "body" {
			field = prefix + "body"
			if prefix != "" {
				field = prefix[:len(prefix)-1]
			}
		}
		return badBody(field + ": " + ve.Msg)
	}
	return badBody(prefix + err.Error())
}

func (s *Server) postEvent(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, err := idempotencyKey(r, "event")
	if err != nil {
		return err
	}
	v, err := readJSON(w, r, MaxEventBody)
	if err != nil {
		return err
	}
	hook, err := intake.Parse(env, v)
	if err != nil {
		return validationMessage("", err)
	}
	answer, err := s.cfg.Intake.AcceptEvent(r.Context(), env, key, hook)
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusAccepted, answer)
	return nil
}

func (s *Server) postEventBatch(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, err := idempotencyKey(r, "batch")
	if err != nil {
		return err
	}
	// Read the whole body first: a producer that uploads slowly holds
	// only its share of the body budget, never a parse slot.
	b, err := readBody(w, r, MaxBatchBody)
	if err != nil {
		return err
	}
	// Then parse and store in one of the slots, which bound the memory of
	// parsed batches (several times their bodies) and the CPU they take.
	select {
	case s.batches <- struct{}{}:
		defer func() { <-s.batches }()
	case <-r.Context().Done():
		return r.Context().Err()
	}
	v, err := parseJSON(b)
	if err != nil {
		return err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return badBody("body must be a JSON object with an events array")
	}
	for k := range obj {
		if k != "events" {
			return badBody(k + ": unknown field")
		}
	}
	raw, ok := obj["events"]
	if !ok {
		return badBody("events: required")
	}
	list, ok := raw.([]any)
	switch {
	case !ok:
		return badBody("events: must be an array")
	case len(list) == 0:
		return badBody("events: must hold at least one event")
	case len(list) > MaxBatch:
		return errf(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf("events: at most %d events per batch", MaxBatch))
	}
	hooks := make([]nango.Webhook, len(list))
	for i, e := range list {
		if hooks[i], err = intake.Parse(env, e); err != nil {
			return validationMessage(fmt.Sprintf("events[%d].", i), err)
		}
	}
	answer, err := s.cfg.Intake.AcceptBatch(r.Context(), env, key, hooks)
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusAccepted, answer)
	return nil
}

func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", errf(http.StatusBadRequest, CodeInvalidURIParams, "id: must be a UUID")
	}
	return id, nil
}

// eventJSON is an event as the log lists it; GET /events/{id} adds its
// body and deliveries.
type eventJSON struct {
	ID                string `json:"id"`
	Type              string `json:"type"`
	ConnectionID      string `json:"connection_id"`
	ProviderConfigKey string `json:"provider_config_key"`
	CreatedAt         string `json:"created_at"`
	// Status is the event's fate: skipped, pending, succeeded or failed.
	Status        string   `json:"status"`
	Skipped       *string  `json:"skipped"`
	UnknownFields []string `json:"unknown_fields"`
	// Inbound is the log of a forwarded provider request.
	Inbound json.RawMessage `json:"inbound,omitempty"`
}

func toEventJSON(ev *herald.Event) eventJSON {
	out := eventJSON{ID: ev.ID, Type: ev.Type, ConnectionID: ev.ConnectionID, ProviderConfigKey: ev.ProviderConfigKey,
		CreatedAt: timestamp(ev.CreatedAt), Status: ev.Status, UnknownFields: ev.UnknownFields, Inbound: ev.Inbound}
	if out.UnknownFields == nil {
		out.UnknownFields = []string{}
	}
	if ev.Skipped != "" {
		out.Skipped = &ev.Skipped
	}
	return out
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ev, ds, err := s.store.GetEvent(r.Context(), env.ID, id)
	if errors.Is(err, herald.ErrNotFound) {
		return errf(http.StatusNotFound, CodeNotFound, "no event with this id")
	}
	if err != nil {
		return err
	}
	deliveries := make([]deliveryJSON, 0, len(ds))
	for i := range ds {
		deliveries = append(deliveries, toDeliveryJSON(&ds[i]))
	}
	writeJSON(w, http.StatusOK, struct {
		eventJSON
		Body       json.RawMessage `json:"body"`
		Deliveries []deliveryJSON  `json:"deliveries"`
	}{toEventJSON(ev), ev.Body, deliveries})
	return nil
}

// listEvents is GET /events: the log of events, newest first, with the
// filters of GET /deliveries that apply to events.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	df, err := parseLogFilter(r, eventFates)
	if err != nil {
		return err
	}
	f := herald.EventFilter{Status: df.Status, Type: df.Type, ConnectionID: df.ConnectionID, ProviderConfigKey: df.ProviderConfigKey,
		Since: df.Since, Until: df.Until, Limit: df.Limit + 1, Cursor: df.Cursor}
	evs, err := s.store.ListEvents(r.Context(), env.ID, f)
	if err != nil {
		return err
	}
	var next *string
	if len(evs) > df.Limit {
		evs = evs[:df.Limit]
		next = &evs[df.Limit-1].ID
	}
	data := make([]eventJSON, 0, len(evs))
	for i := range evs {
		data = append(data, toEventJSON(&evs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next_cursor": next})
	return nil
}
