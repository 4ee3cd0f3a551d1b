package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/registry"
)

// maxRegistryBody bounds a PUT body of an integration or a connection.
const maxRegistryBody = 256 << 10

// CodeUnknownProviderConfig is the error code for an integration that does
// not exist (SPEC §2).
const CodeUnknownProviderConfig = "unknown_provider_config"

type credentialsJSON struct {
	ClientID         string `json:"client_id"`
	ClientSecretSet  bool   `json:"client_secret_set"`
	WebhookSecretSet bool   `json:"webhook_secret_set"`
}

type integrationJSON struct {
	ProviderConfigKey string          `json:"provider_config_key"`
	Provider          string          `json:"provider"`
	ForwardWebhooks   bool            `json:"forward_webhooks"`
	Credentials       credentialsJSON `json:"credentials"`
	RequireSignature  bool            `json:"require_signature"`
	MaxBodyBytes      int64           `json:"max_body_bytes"`
	RateLimitPerS     int             `json:"rate_limit_per_s"`
	// WebhookPath is where the provider sends its webhooks, below
	// herald's public address.
	WebhookPath string `json:"webhook_path"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

// toIntegrationJSON writes in without its secrets: only whether each is set.
func toIntegrationJSON(in *herald.Integration) integrationJSON {
	return integrationJSON{ProviderConfigKey: in.ProviderConfigKey, Provider: in.Provider, ForwardWebhooks: in.ForwardWebhooks,
		Credentials:      credentialsJSON{ClientID: in.ClientID, ClientSecretSet: in.ClientSecret != "", WebhookSecretSet: in.WebhookSecret != ""},
		RequireSignature: in.SignatureRequired(), MaxBodyBytes: in.BodyLimit(), RateLimitPerS: in.RateLimit(),
		WebhookPath: "/webhook/" + in.EnvironmentID + "/" + in.ProviderConfigKey,
		CreatedAt:   timestamp(in.CreatedAt), UpdatedAt: timestamp(in.UpdatedAt)}
}

type connectionJSON struct {
	ProviderConfigKey  string          `json:"provider_config_key"`
	ConnectionID       string          `json:"connection_id"`
	ConnectionConfig   json.RawMessage `json:"connection_config"`
	Metadata           json.RawMessage `json:"metadata"`
	Tags               json.RawMessage `json:"tags"`
	WebhookURLOverride *string         `json:"webhook_url_override"`
	CreatedAt          string          `json:"created_at"`
	UpdatedAt          string          `json:"updated_at"`
}

func toConnectionJSON(c *herald.Connection) connectionJSON {
	out := connectionJSON{ProviderConfigKey: c.ProviderConfigKey, ConnectionID: c.ConnectionID,
		ConnectionConfig: orEmpty(c.ConnectionConfig), Metadata: orEmpty(c.Metadata), Tags: orEmpty(c.Tags),
		CreatedAt: timestamp(c.CreatedAt), UpdatedAt: timestamp(c.UpdatedAt)}
	if c.WebhookURLOverride != "" {
		out.WebhookURLOverride = &c.WebhookURLOverride
	}
	return out
}

func orEmpty(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// pathKey reads a provider config key or connection id from the path.
func pathKey(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	if err := registry.CheckKey(name, v); err != nil {
		return "", errf(http.StatusBadRequest, CodeInvalidURIParams, err.Error())
	}
	return v, nil
}

func unknownIntegration() *apiError {
	return errf(http.StatusNotFound, CodeUnknownProviderConfig, "no integration with this provider config key")
}

func (s *Server) putIntegration(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, err := pathKey(r, "providerConfigKey")
	if err != nil {
		return err
	}
	v, err := readJSON(w, r, maxRegistryBody)
	if err != nil {
		return err
	}
	in, _, err := s.cfg.Registry.PutIntegration(r.Context(), env.ID, key, v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toIntegrationJSON(in))
	return nil
}

func (s *Server) getIntegration(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, err := pathKey(r, "providerConfigKey")
	if err != nil {
		return err
	}
	in, err := s.store.Integration(r.Context(), env.ID, key)
	if errors.Is(err, herald.ErrNotFound) {
		return unknownIntegration()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toIntegrationJSON(in))
	return nil
}

func (s *Server) deleteIntegration(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, err := pathKey(r, "providerConfigKey")
	if err != nil {
		return err
	}
	err = s.cfg.Registry.DeleteIntegration(r.Context(), env.ID, key)
	if errors.Is(err, herald.ErrNotFound) {
		return unknownIntegration()
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parsePage reads limit and an opaque cursor (base64url of the store's).
func parsePage(r *http.Request) (herald.Page, error) {
	q := r.URL.Query()
	p := herald.Page{Limit: DefaultPageSize}
	if err := checkQuery(q); err != nil {
		return p, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return p, badQuery("limit: must be an integer from 1 to 200")
		}
		p.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || herald.CheckText("cursor", string(b)) != nil {
			return p, badQuery("cursor: not a cursor returned by this API")
		}
		p.Cursor = string(b)
	}
	return p, nil
}

func encodeCursor(c string) *string {
	s := base64.RawURLEncoding.EncodeToString([]byte(c))
	return &s
}

func (s *Server) listIntegrations(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	want := p.Limit
	p.Limit++
	ins, err := s.store.ListIntegrations(r.Context(), env.ID, p)
	if err != nil {
		return err
	}
	var next *string
	if len(ins) > want {
		ins = ins[:want]
		next = encodeCursor(ins[want-1].ProviderConfigKey)
	}
	data := make([]integrationJSON, 0, len(ins))
	for i := range ins {
		data = append(data, toIntegrationJSON(&ins[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next_cursor": next})
	return nil
}

func connectionPath(r *http.Request) (string, string, error) {
	key, err := pathKey(r, "providerConfigKey")
	if err != nil {
		return "", "", err
	}
	id, err := pathKey(r, "connectionId")
	return key, id, err
}

func unknownConnection() *apiError {
	return errf(http.StatusNotFound, CodeNotFound, "no connection with this id for this provider config key")
}

func (s *Server) putConnection(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, id, err := connectionPath(r)
	if err != nil {
		return err
	}
	v, err := readJSON(w, r, maxRegistryBody)
	if err != nil {
		return err
	}
	c, _, err := s.cfg.Registry.PutConnection(r.Context(), env.ID, key, id, v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toConnectionJSON(c))
	return nil
}

func (s *Server) getConnection(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, id, err := connectionPath(r)
	if err != nil {
		return err
	}
	c, err := s.store.Connection(r.Context(), env.ID, key, id)
	if errors.Is(err, herald.ErrNotFound) {
		return unknownConnection()
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toConnectionJSON(c))
	return nil
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, id, err := connectionPath(r)
	if err != nil {
		return err
	}
	err = s.cfg.Registry.DeleteConnection(r.Context(), env.ID, key, id)
	if errors.Is(err, herald.ErrNotFound) {
		return unknownConnection()
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listConnections(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	p, err := parsePage(r)
	if err != nil {
		return err
	}
	key := r.URL.Query().Get("provider_config_key")
	if key != "" {
		if err := registry.CheckKey("provider_config_key", key); err != nil {
			return badQuery(err.Error())
		}
	}
	want := p.Limit
	p.Limit++
	cs, err := s.store.ListConnections(r.Context(), env.ID, key, p)
	if err != nil {
		return err
	}
	var next *string
	if len(cs) > want {
		cs = cs[:want]
		next = encodeCursor(herald.ConnectionCursor(&cs[want-1]))
	}
	data := make([]connectionJSON, 0, len(cs))
	for i := range cs {
		data = append(data, toConnectionJSON(&cs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next_cursor": next})
	return nil
}
