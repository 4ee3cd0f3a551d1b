package api

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/dispatch"
)

// Page sizes of GET /deliveries.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

type deliveryJSON struct {
	ID             string  `json:"id"`
	EventID        string  `json:"event_id"`
	Type           string  `json:"type"`
	URL            string  `json:"url"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
	NextAttemptAt  *string `json:"next_attempt_at"`
	LastStatusCode *int    `json:"last_status_code"`
	LastError      *string `json:"last_error"`
}

func toDeliveryJSON(d *herald.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, EventID: d.EventID, Type: d.Type, URL: d.URL, Status: d.Status, Attempts: d.Attempts,
		CreatedAt: timestamp(d.CreatedAt), UpdatedAt: timestamp(d.UpdatedAt), NextAttemptAt: timestampPtr(d.NextAttemptAt),
		LastStatusCode: d.LastStatusCode, LastError: d.LastError}
}

var (
	deliveryStatuses = map[string]bool{herald.StatusPending: true, herald.StatusSending: true, herald.StatusSucceeded: true,
		herald.StatusFailed: true, herald.StatusSkipped: true, herald.StatusHeld: true}
	webhookTypes = map[string]bool{"auth": true, "sync": true, "async_action": true, "forward": true}
)

func badQuery(msg string) *apiError { return errf(http.StatusBadRequest, CodeInvalidQueryParams, msg) }

// checkQuery applies herald.CheckText to every value of every query
// parameter (in name order, so the error is stable): a NUL or ill-formed
// UTF-8 is 400 invalid_query_params naming the parameter, before any
// store sees the value.
func checkQuery(q url.Values) error {
	for _, name := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[name] {
			if err := herald.CheckText(name, v); err != nil {
				return badQuery(err.Error())
			}
		}
	}
	return nil
}

// parseLogFilter reads the filters of GET /deliveries and GET /events;
// statuses are the values status may take (delivery statuses, or events'
// fates).
func parseLogFilter(r *http.Request, statuses map[string]bool) (herald.DeliveryFilter, error) {
	q := r.URL.Query()
	f := herald.DeliveryFilter{Limit: DefaultPageSize}
	if err := checkQuery(q); err != nil {
		return f, err
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if len(q[name]) > 1 {
			return f, badQuery(name + ": given more than once")
		}
	}
	f.Status = q.Get("status")
	if f.Status != "" && !statuses[f.Status] {
		return f, badQuery("status: must be one of " + strings.Join(slices.Sorted(maps.Keys(statuses)), ", "))
	}
	f.Type = q.Get("type")
	if f.Type != "" && !webhookTypes[f.Type] {
		return f, badQuery("type: must be one of auth, sync, async_action, forward")
	}
	f.ConnectionID = q.Get("connection_id")
	f.ProviderConfigKey = q.Get("provider_config_key")
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, badQuery(p.name + ": must be an RFC 3339 timestamp")
			}
			*p.dst = &t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return f, badQuery("limit: must be an integer from 1 to 200")
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
			return f, badQuery("cursor: not a cursor returned by this API")
		}
		f.Cursor = v
	}
	return f, nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	f, err := parseLogFilter(r, deliveryStatuses)
	if err != nil {
		return err
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	ds, err := s.store.ListDeliveries(r.Context(), env.ID, f)
	if err != nil {
		return err
	}
	var next *string
	if len(ds) > want {
		ds = ds[:want]
		next = &ds[want-1].ID
	}
	data := make([]deliveryJSON, 0, len(ds))
	for i := range ds {
		data = append(data, toDeliveryJSON(&ds[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next_cursor": next})
	return nil
}

type attemptJSON struct {
	Number       int     `json:"number"`
	StartedAt    string  `json:"started_at"`
	DurationMS   int64   `json:"duration_ms"`
	StatusCode   *int    `json:"status_code"`
	Error        *string `json:"error"`
	ResponseBody *string `json:"response_body"`
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, body, attempts, err := s.store.GetDelivery(r.Context(), env.ID, id)
	if errors.Is(err, herald.ErrNotFound) {
		return errf(http.StatusNotFound, CodeNotFound, "no delivery with this id")
	}
	if err != nil {
		return err
	}
	ev, _, err := s.store.GetEvent(r.Context(), env.ID, d.EventID)
	if err != nil {
		return err
	}
	// The request herald sends: the headers of the last attempt (or the
	// first, before any), signed now; signatures with a timestamp differ
	// from one attempt to the next.
	var static map[string]string // the endpoint's own headers
	if ep, err := s.store.EndpointByURL(r.Context(), env.ID, d.URL); err == nil {
		static = ep.Headers
	} else if !errors.Is(err, herald.ErrNotFound) {
		return err
	}
	headers := map[string]string{}
	number := max(1, d.Attempts)
	for name, vs := range dispatch.RequestHeaders(env, herald.Job{DeliveryID: d.ID, EventID: d.EventID, Body: body,
		Headers: ev.Headers}, static, number, time.Now()) {
		headers[name] = strings.Join(vs, ", ")
	}
	log := make([]attemptJSON, 0, len(attempts))
	for _, a := range attempts {
		log = append(log, attemptJSON{Number: a.Number, StartedAt: timestamp(a.StartedAt), DurationMS: a.DurationMS,
			StatusCode: a.StatusCode, Error: a.Error, ResponseBody: a.ResponseBody})
	}
	writeJSON(w, http.StatusOK, struct {
		deliveryJSON
		Body           json.RawMessage   `json:"body"`
		RequestHeaders map[string]string `json:"request_headers"`
		AttemptLog     []attemptJSON     `json:"attempt_log"`
	}{toDeliveryJSON(d), body, headers, log})
	return nil
}
