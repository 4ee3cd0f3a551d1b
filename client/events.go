package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"

	"github.com/heraldhq/herald/nango"
)

// SendEvent sends one webhook body (POST /events). hook is validated and
// written as its canonical bytes (nango.Webhook.Canonical) before it
// leaves, so a body Nango would not send is an error here, not a 400.
func (c *Client) SendEvent(ctx context.Context, hook nango.Webhook, opts *SendOptions) (*SendResult, error) {
	body, err := canonical(hook)
	if err != nil {
		return nil, err
	}
	return c.SendEventJSON(ctx, body, opts)
}

// SendEventJSON sends one webhook body already encoded as JSON (POST
// /events); herald validates it.
func (c *Client) SendEventJSON(ctx context.Context, body json.RawMessage, opts *SendOptions) (*SendResult, error) {
	var out SendResult
	if err := c.call(ctx, sendRequest("/events", body, opts), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendBatch sends up to 1,000 webhook bodies in one request (POST
// /events/batch): all are accepted, or none (the error names the index
// and field at fault). The results are in the order of hooks.
func (c *Client) SendBatch(ctx context.Context, hooks []nango.Webhook, opts *SendOptions) ([]SendResult, error) {
	bodies := make([]json.RawMessage, len(hooks))
	for i, h := range hooks {
		b, err := canonical(h)
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		}
		bodies[i] = b
	}
	return c.SendBatchJSON(ctx, bodies, opts)
}

// SendBatchJSON is SendBatch with bodies already encoded as JSON.
func (c *Client) SendBatchJSON(ctx context.Context, bodies []json.RawMessage, opts *SendOptions) ([]SendResult, error) {
	if bodies == nil {
		bodies = []json.RawMessage{}
	}
	body, err := json.Marshal(struct {
		Events []json.RawMessage `json:"events"`
	}{bodies})
	if err != nil {
		return nil, fmt.Errorf("herald: encode the batch: %w", err)
	}
	var out struct {
		Results []SendResult `json:"results"`
	}
	if err := c.call(ctx, sendRequest("/events/batch", body, opts), &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

func canonical(hook nango.Webhook) (json.RawMessage, error) {
	if hook == nil {
		return nil, errors.New("herald: no webhook to send")
	}
	b, err := hook.Canonical()
	if err != nil {
		return nil, fmt.Errorf("herald: %w", err)
	}
	return b, nil
}

func sendRequest(path string, body []byte, opts *SendOptions) request {
	r := request{method: http.MethodPost, path: path, body: bytes.Clone(body)}
	if opts != nil && opts.IdempotencyKey != "" {
		r.header = http.Header{"Idempotency-Key": {opts.IdempotencyKey}}
		r.idempotent = true
	}
	return r
}

// ListEvents reads one page of the event log (GET /events), newest
// first; p may be nil.
func (c *Client) ListEvents(ctx context.Context, p *ListParams) (*EventPage, error) {
	var out EventPage
	if err := c.call(ctx, getRequest("/events"+p.query()), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllEvents iterates over every event that p selects, newest first,
// fetching page after page (of p.Limit, or 200 when it is 0) from
// p.Cursor on. The iteration stops at the first error, which it yields.
func (c *Client) AllEvents(ctx context.Context, p *ListParams) iter.Seq2[Event, error] {
	return all(ctx, p, func(ctx context.Context, p *ListParams) ([]Event, string, error) {
		page, err := c.ListEvents(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return page.Data, page.NextCursor, nil
	})
}

// GetEvent reads one event with its body and deliveries (GET
// /events/{id}).
func (c *Client) GetEvent(ctx context.Context, id string) (*EventDetail, error) {
	seg, err := pathID("event", id)
	if err != nil {
		return nil, err
	}
	var out EventDetail
	if err := c.call(ctx, getRequest("/events/"+seg), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplayEvent sends one event again, whatever its fate, as new deliveries
// to the environment's current URLs (POST /events/{id}/replay). It
// returns how many events were queued: 1, or 0 when the environment has
// no URL for it.
func (c *Client) ReplayEvent(ctx context.Context, id string) (int, error) {
	seg, err := pathID("event", id)
	if err != nil {
		return 0, err
	}
	var out struct {
		Queued int `json:"queued"`
	}
	if err := c.call(ctx, request{method: http.MethodPost, path: "/events/" + seg + "/replay"}, &out); err != nil {
		return 0, err
	}
	return out.Queued, nil
}

// Replay sends every event that p selects again (POST /events/replay) and
// returns how many it selected. herald writes their deliveries in the
// background, paced so that live traffic goes first; the same call within
// a minute queues nothing and returns 0.
func (c *Client) Replay(ctx context.Context, p ReplayParams) (int, error) {
	body := map[string]string{}
	for k, v := range map[string]string{"since": stamp(p.Since), "until": stamp(p.Until), "type": p.Type,
		"connection_id": p.ConnectionID, "provider_config_key": p.ProviderConfigKey, "status": p.Status} {
		if v != "" {
			body[k] = v
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	var out struct {
		Queued int `json:"queued"`
	}
	if err := c.call(ctx, request{method: http.MethodPost, path: "/events/replay", body: b}, &out); err != nil {
		return 0, err
	}
	return out.Queued, nil
}

func getRequest(path string) request {
	return request{method: http.MethodGet, path: path, idempotent: true}
}

// all iterates over the pages that list fetches, following NextCursor.
func all[T any](ctx context.Context, p *ListParams, list func(context.Context, *ListParams) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		q := ListParams{}
		if p != nil {
			q = *p
		}
		if q.Limit == 0 {
			q.Limit = 200
		}
		for {
			items, next, err := list(ctx, &q)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			q.Cursor = next
		}
	}
}
