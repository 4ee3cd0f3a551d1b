package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/testkit"
)

type integrationView struct {
	ProviderConfigKey string `json:"provider_config_key"`
	Provider          string `json:"provider"`
	ForwardWebhooks   bool   `json:"forward_webhooks"`
	Credentials       struct {
		ClientID         string `json:"client_id"`
		ClientSecretSet  bool   `json:"client_secret_set"`
		WebhookSecretSet bool   `json:"webhook_secret_set"`
	} `json:"credentials"`
	RequireSignature bool   `json:"require_signature"`
	MaxBodyBytes     int64  `json:"max_body_bytes"`
	RateLimitPerS    int    `json:"rate_limit_per_s"`
	WebhookPath      string `json:"webhook_path"`
	CreatedAt        string `json:"created_at"`
	UpdatedAt        string `json:"updated_at"`
}

type connectionView struct {
	ProviderConfigKey  string          `json:"provider_config_key"`
	ConnectionID       string          `json:"connection_id"`
	ConnectionConfig   json.RawMessage `json:"connection_config"`
	Metadata           json.RawMessage `json:"metadata"`
	Tags               json.RawMessage `json:"tags"`
	WebhookURLOverride *string         `json:"webhook_url_override"`
	CreatedAt          string          `json:"created_at"`
	UpdatedAt          string          `json:"updated_at"`
}

type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// TestIntegrations: put, get, list with cursors, delete; secrets are never
// returned and a PUT that leaves them out keeps them.
func TestIntegrations(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "reg", nil)
	other := f.newEnv(t, "other", nil)
	const secret = "shh-very-secret-value"

	r := f.put(t, env.SecretKey, "/integrations/hub", map[string]any{"provider": "hubspot",
		"credentials": map[string]any{"client_id": "cid", "client_secret": secret}})
	r.want(t, http.StatusOK)
	if bytes.Contains(r.body, []byte(secret)) {
		t.Fatalf("PUT answer shows the secret: %s", r.body)
	}
	var in integrationView
	r.decode(t, &in)
	if in.Provider != "hubspot" || !in.ForwardWebhooks || in.Credentials.ClientID != "cid" || !in.Credentials.ClientSecretSet ||
		in.Credentials.WebhookSecretSet || !in.RequireSignature || in.MaxBodyBytes != 1<<20 || in.RateLimitPerS != 1000 ||
		in.WebhookPath != "/webhook/"+env.ID+"/hub" {
		t.Errorf("integration %+v", in)
	}

	// A PUT without credentials keeps the secret; null removes it.
	f.put(t, env.SecretKey, "/integrations/hub", map[string]any{"provider": "hubspot", "forward_webhooks": false}).want(t, http.StatusOK)
	r = f.do(t, http.MethodGet, "/integrations/hub", env.SecretKey, nil)
	r.want(t, http.StatusOK)
	r.decode(t, &in)
	if !in.Credentials.ClientSecretSet || in.ForwardWebhooks || in.CreatedAt == "" {
		t.Errorf("after a PUT without credentials: %+v", in)
	}
	f.put(t, env.SecretKey, "/integrations/hub", map[string]any{"provider": "hubspot",
		"credentials": map[string]any{"client_secret": nil}}).decode(t, &in)
	if in.Credentials.ClientSecretSet || in.RequireSignature {
		t.Errorf("after removing the secret: %+v", in)
	}

	for _, k := range []string{"a", "b", "c"} {
		f.put(t, env.SecretKey, "/integrations/"+k, map[string]any{"provider": "github"}).want(t, http.StatusOK)
	}
	var keys []string
	cursor := ""
	for range 5 {
		r := f.do(t, http.MethodGet, "/integrations?limit=2"+cursor, env.SecretKey, nil)
		r.want(t, http.StatusOK)
		var p page[integrationView]
		r.decode(t, &p)
		for _, i := range p.Data {
			keys = append(keys, i.ProviderConfigKey)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *p.NextCursor
	}
	if strings.Join(keys, ",") != "a,b,c,hub" {
		t.Errorf("listed %v", keys)
	}

	// Isolation: another environment sees none of them.
	checkError(t, f.do(t, http.MethodGet, "/integrations/hub", other.SecretKey, nil), http.StatusNotFound, "unknown_provider_config")
	var p page[integrationView]
	f.do(t, http.MethodGet, "/integrations", other.SecretKey, nil).decode(t, &p)
	if len(p.Data) != 0 {
		t.Errorf("another environment lists %v", p.Data)
	}

	f.do(t, http.MethodDelete, "/integrations/hub", env.SecretKey, nil).want(t, http.StatusNoContent)
	checkError(t, f.do(t, http.MethodGet, "/integrations/hub", env.SecretKey, nil), http.StatusNotFound, "unknown_provider_config")
	checkError(t, f.do(t, http.MethodDelete, "/integrations/hub", env.SecretKey, nil), http.StatusNotFound, "unknown_provider_config")
}

// TestRegistryBadInput: every bad body is 400 naming the field, and
// stores nothing.
func TestRegistryBadInput(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "bad", nil)
	for _, c := range []struct {
		path, body, mention string
	}{
		{"/integrations/x", `{}`, "provider"},
		{"/integrations/x", `{"provider":"nope"}`, "provider"},
		{"/integrations/x", `{"provider":"github","extra":1}`, "extra"},
		{"/integrations/x", `{"provider":"github","credentials":{"webhook_secret":5}}`, "credentials.webhook_secret"},
		{"/integrations/x", `{"provider":"github","credentials":{"token":"a"}}`, "credentials.token"},
		{"/integrations/x", `{"provider":"github","max_body_bytes":0}`, "max_body_bytes"},
		{"/integrations/x", `{"provider":"github","max_body_bytes":99999999}`, "max_body_bytes"},
		{"/integrations/x", `{"provider":"github","rate_limit_per_s":1.5}`, "rate_limit_per_s"},
		{"/integrations/x", `{"provider":"github","forward_webhooks":"yes"}`, "forward_webhooks"},
		{"/integrations/x", `[]`, "object"},
		{"/connections/x/c", `{"connection_config":[]}`, "connection_config"},
		{"/connections/x/c", `{"tags":{"a":1}}`, "tags.a"},
		{"/connections/x/c", `{"webhook_url_override":"ftp://x"}`, "webhook_url_override"},
		{"/connections/x/c", `{"webhook_url_override":5}`, "webhook_url_override"},
		{"/connections/x/c", `{"metadata":{"\u0000":1}}`, "metadata"},
		{"/connections/x/c", `{"other":{}}`, "other"},
	} {
		r := f.do(t, http.MethodPut, c.path, env.SecretKey, c.body)
		checkError(t, r, http.StatusBadRequest, "invalid_body", c.mention)
	}
	checkError(t, f.do(t, http.MethodGet, "/integrations/x", env.SecretKey, nil), http.StatusNotFound, "unknown_provider_config")
	checkError(t, f.do(t, http.MethodGet, "/connections/x/c", env.SecretKey, nil), http.StatusNotFound, "not_found")
	checkError(t, f.do(t, http.MethodGet, "/connections?cursor=!!", env.SecretKey, nil), http.StatusBadRequest, "invalid_query_params")
	checkError(t, f.do(t, http.MethodPut, "/integrations/a%2Fb", env.SecretKey, `{"provider":"github"}`), http.StatusBadRequest, "invalid_uri_params")
	checkError(t, f.do(t, http.MethodGet, "/integrations", "", nil), http.StatusUnauthorized, "unauthorized")
}

// TestConnections: put, get, list per integration and across, delete.
func TestConnections(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "conns", nil)
	r := f.put(t, env.SecretKey, "/connections/slack/T1", map[string]any{"connection_config": map[string]any{"team.id": "T1", "b": 1, "a": []any{2}},
		"tags": map[string]any{"plan": "pro"}})
	r.want(t, http.StatusOK)
	var c connectionView
	r.decode(t, &c)
	if string(c.ConnectionConfig) != `{"a":[2],"b":1,"team.id":"T1"}` || string(c.Metadata) != `{}` || string(c.Tags) != `{"plan":"pro"}` ||
		c.WebhookURLOverride != nil || c.ConnectionID != "T1" || c.ProviderConfigKey != "slack" {
		t.Errorf("connection %+v", c)
	}
	for _, id := range []string{"T2", "T3"} {
		f.put(t, env.SecretKey, "/connections/slack/"+id, map[string]any{}).want(t, http.StatusOK)
	}
	f.put(t, env.SecretKey, "/connections/github/g1", map[string]any{}).want(t, http.StatusOK)

	var ids []string
	cursor := ""
	for range 5 {
		var p page[connectionView]
		f.do(t, http.MethodGet, "/connections?provider_config_key=slack&limit=2"+cursor, env.SecretKey, nil).decode(t, &p)
		for _, c := range p.Data {
			ids = append(ids, c.ConnectionID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *p.NextCursor
	}
	if strings.Join(ids, ",") != "T1,T2,T3" {
		t.Errorf("listed %v", ids)
	}
	var all page[connectionView]
	f.do(t, http.MethodGet, "/connections", env.SecretKey, nil).decode(t, &all)
	if len(all.Data) != 4 || all.Data[0].ProviderConfigKey != "github" {
		t.Errorf("all connections %+v", all.Data)
	}
	f.do(t, http.MethodDelete, "/connections/slack/T2", env.SecretKey, nil).want(t, http.StatusNoContent)
	checkError(t, f.do(t, http.MethodGet, "/connections/slack/T2", env.SecretKey, nil), http.StatusNotFound, "not_found")
}

// TestURLOverride: a connection's webhook_url_override takes every webhook
// type about it to its URL alone (SPEC §5); other connections keep the
// environment's URLs, and removing the override brings them back.
func TestURLOverride(t *testing.T) {
	f := newFixture(t, options{})
	rc, own := newReceiver(t), newReceiver(t)
	env := f.newEnv(t, "override", map[string]any{"primary_url": rc.URL("/p"), "secondary_url": rc.URL("/s")})
	f.put(t, env.SecretKey, "/connections/github/c1", map[string]any{"webhook_url_override": own.URL("/own")}).want(t, http.StatusOK)

	f.do(t, http.MethodPost, "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted) // connection c1, github
	other := strings.Replace(validAuth, `"c1"`, `"c2"`, 1)
	f.do(t, http.MethodPost, "/events", env.SecretKey, other).want(t, http.StatusAccepted)
	testkit.WaitFor(t, "deliveries", func() bool { return len(own.Requests()) == 1 && len(rc.Requests()) == 2 })
	if !bytes.Contains(own.Requests()[0].Body, []byte(`"connectionId":"c1"`)) {
		t.Errorf("override received %s", own.Requests()[0].Body)
	}

	f.put(t, env.SecretKey, "/connections/github/c1", map[string]any{"webhook_url_override": nil}).want(t, http.StatusOK)
	f.do(t, http.MethodPost, "/events", env.SecretKey, validAuth).want(t, http.StatusAccepted)
	testkit.WaitFor(t, "deliveries without the override", func() bool { return len(rc.Requests()) == 4 })
	if len(own.Requests()) != 1 {
		t.Errorf("the override still received after its removal")
	}
}
