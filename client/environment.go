package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// GetSettings reads the environment of the Client's key, its webhook
// settings and its signing key (GET /environment).
func (c *Client) GetSettings(ctx context.Context) (*EnvironmentSettings, error) {
	var out EnvironmentSettings
	if err := c.call(ctx, getRequest("/environment"), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PatchSettings changes the fields of the webhook settings that p sets
// (PATCH /environment/webhook), all or none, and returns the whole
// settings as they now stand. A patch that sets nothing is 400
// invalid_body.
func (c *Client) PatchSettings(ctx context.Context, p SettingsPatch) (*Settings, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return c.PatchSettingsJSON(ctx, b)
}

// PatchSettingsJSON is PatchSettings with the patch already encoded as a
// JSON object, such as {"primary_url":null}.
func (c *Client) PatchSettingsJSON(ctx context.Context, patch json.RawMessage) (*Settings, error) {
	var out Settings
	if err := c.call(ctx, request{method: http.MethodPatch, path: "/environment/webhook", body: patch}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateEnvironment creates an environment named name ([a-z0-9_-]{1,64},
// unique: 409 conflict otherwise) with the admin key (POST
// /admin/environments). The answer is the only one that shows its
// SecretKey and WebhookSigningKey.
func (c *Client) CreateEnvironment(ctx context.Context, name string) (*Environment, error) {
	b, err := json.Marshal(map[string]string{"name": name})
	if err != nil {
		return nil, err
	}
	var out Environment
	if err := c.call(ctx, request{method: http.MethodPost, path: "/admin/environments", body: b}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListEnvironments lists every environment, without keys, with the admin
// key (GET /admin/environments).
func (c *Client) ListEnvironments(ctx context.Context) ([]Environment, error) {
	var out struct {
		Data []Environment `json:"data"`
	}
	if err := c.call(ctx, getRequest("/admin/environments"), &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// DeleteEnvironment deletes an environment and all it holds, with the
// admin key (DELETE /admin/environments/{id}).
func (c *Client) DeleteEnvironment(ctx context.Context, id string) error {
	seg, err := pathID("environment", id)
	if err != nil {
		return err
	}
	return c.call(ctx, request{method: http.MethodDelete, path: "/admin/environments/" + seg}, nil)
}
