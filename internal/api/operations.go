package api

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"time"

	herald "github.com/heraldhq/herald"
)

// retryDelivery is POST /deliveries/{id}/retry: one more round of attempts
// now, appended to the delivery's log; 202 with the delivery.
func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := s.cfg.Resend.Retry(r.Context(), env, id)
	if errors.Is(err, herald.ErrNotFound) {
		return errf(http.StatusNotFound, CodeNotFound, "no delivery with this id")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toDeliveryJSON(d))
	return nil
}

// bulkBody reads the body of the bulk routes: an object of the given
// fields, strings all; since and until are RFC 3339 times and required.
func bulkBody(w http.ResponseWriter, r *http.Request, fields ...string) (since, until time.Time, vals map[string]string, err error) {
	v, err := readJSON(w, r, maxAdminBody)
	if err != nil {
		return since, until, nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return since, until, nil, badBody("body must be a JSON object")
	}
	vals = map[string]string{}
	known := map[string]bool{"since": true, "until": true}
	for _, f := range fields {
		known[f] = true
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !known[k] {
			return since, until, nil, badBody(k + ": unknown field")
		}
		if obj[k] == nil {
			continue
		}
		s, ok := obj[k].(string)
		if !ok {
			return since, until, nil, badBody(k + ": must be a string")
		}
		if err := herald.CheckText(k, s); err != nil {
			return since, until, nil, badBody(err.Error())
		}
		vals[k] = s
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		s, ok := vals[p.name]
		if !ok {
			return since, until, nil, badBody(p.name + ": required")
		}
		if *p.dst, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return since, until, nil, badBody(p.name + ": must be an RFC 3339 timestamp")
		}
	}
	return since, until, vals, nil
}

// recoverDeliveries is POST /deliveries/recover {since, until}: a new round
// for every failed delivery of the window; 202 {"requeued":N}.
func (s *Server) recoverDeliveries(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	since, until, _, err := bulkBody(w, r)
	if err != nil {
		return err
	}
	n, err := s.cfg.Resend.Recover(r.Context(), env, since, until)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"requeued": n})
	return nil
}

// replayEvent is POST /events/{id}/replay: the event again, as new
// deliveries to the current URLs; 202 {"queued":N}.
func (s *Server) replayEvent(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	n, err := s.cfg.Resend.ReplayEvent(r.Context(), env, id)
	if errors.Is(err, herald.ErrNotFound) {
		return errf(http.StatusNotFound, CodeNotFound, "no event with this id")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
	return nil
}

// replayEvents is POST /events/replay {since, until, type?, connection_id?,
// provider_config_key?, status?}; 202 {"queued":N}.
func (s *Server) replayEvents(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	since, until, vals, err := bulkBody(w, r, "type", "connection_id", "provider_config_key", "status")
	if err != nil {
		return err
	}
	f := herald.EventFilter{Since: &since, Until: &until, Type: vals["type"], ConnectionID: vals["connection_id"],
		ProviderConfigKey: vals["provider_config_key"], Status: vals["status"]}
	if f.Type != "" && !webhookTypes[f.Type] {
		return badBody("type: must be one of auth, sync, async_action, forward")
	}
	if f.Status != "" && !eventFates[f.Status] {
		return badBody("status: must be one of skipped, pending, succeeded, failed")
	}
	n, err := s.cfg.Resend.Replay(r.Context(), env, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"queued": n})
	return nil
}

var eventFates = map[string]bool{herald.FateSkipped: true, herald.FatePending: true, herald.FateSucceeded: true, herald.FateFailed: true}
