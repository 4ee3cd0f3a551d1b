package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"time"
)

// ListDeliveries reads one page of the delivery log (GET /deliveries),
// newest first; p may be nil.
func (c *Client) ListDeliveries(ctx context.Context, p *ListParams) (*DeliveryPage, error) {
	var out DeliveryPage
	if err := c.call(ctx, getRequest("/deliveries"+p.query()), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllDeliveries iterates over every delivery that p selects, newest
// first, fetching page after page (of p.Limit, or 200 when it is 0) from
// p.Cursor on. The iteration stops at the first error, which it yields.
func (c *Client) AllDeliveries(ctx context.Context, p *ListParams) iter.Seq2[Delivery, error] {
	return all(ctx, p, func(ctx context.Context, p *ListParams) ([]Delivery, string, error) {
		page, err := c.ListDeliveries(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return page.Data, page.NextCursor, nil
	})
}

// GetDelivery reads one delivery with its body, the headers it sends and
// its attempt log (GET /deliveries/{id}).
func (c *Client) GetDelivery(ctx context.Context, id string) (*DeliveryDetail, error) {
	seg, err := pathID("delivery", id)
	if err != nil {
		return nil, err
	}
	var out DeliveryDetail
	if err := c.call(ctx, getRequest("/deliveries/"+seg), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetryDelivery queues one more round of attempts of a finished delivery,
// starting now (POST /deliveries/{id}/retry), and returns the delivery. A
// delivery already waiting for an attempt is 409 conflict.
func (c *Client) RetryDelivery(ctx context.Context, id string) (*Delivery, error) {
	seg, err := pathID("delivery", id)
	if err != nil {
		return nil, err
	}
	var out Delivery
	if err := c.call(ctx, request{method: http.MethodPost, path: "/deliveries/" + seg + "/retry"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Recover queues a new round for every failed delivery of the environment
// created in [since, until) (POST /deliveries/recover) and returns how
// many it requeued.
func (c *Client) Recover(ctx context.Context, since, until time.Time) (int, error) {
	b, err := json.Marshal(map[string]string{"since": stamp(since), "until": stamp(until)})
	if err != nil {
		return 0, err
	}
	var out struct {
		Requeued int `json:"requeued"`
	}
	if err := c.call(ctx, request{method: http.MethodPost, path: "/deliveries/recover", body: b}, &out); err != nil {
		return 0, err
	}
	return out.Requeued, nil
}
