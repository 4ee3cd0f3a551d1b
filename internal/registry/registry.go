package registry

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
)

// Limits of the registry's inputs.
const (
	// MaxKeyLen bounds a provider config key and a connection id.
	MaxKeyLen = 255
	// MaxRateLimit bounds an integration's rate_limit_per_s.
	MaxRateLimit = 1_000_000
	// maxSecretLen bounds a credential.
	maxSecretLen = 4096
)

// Config wires a Service.
type Config struct {
	// Store keeps integrations and connections. Pass the cached store, so
	// that reads after a write through this service see the write.
	Store herald.Store
	// KnownProvider reports whether a provider name is in the forwarding
	// table.
	KnownProvider func(name string) bool
	// CheckURL decides whether a webhook_url_override may be used, beyond
	// its syntax (herald.ValidateURL); nil: syntax only.
	CheckURL func(ctx context.Context, url string) error
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Service is the one writer of integrations and connections. It is safe
// for concurrent use.
type Service struct{ cfg Config }

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KnownProvider == nil {
		cfg.KnownProvider = func(string) bool { return true }
	}
	return &Service{cfg: cfg}
}

// CheckKey validates a provider config key or connection id taken from a
// path: 1–255 characters of text (herald.CheckText), no slash, no
// newline, not blank.
func CheckKey(field, key string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return herald.Invalid(field, "must not be empty")
	case len(key) > MaxKeyLen:
		return herald.Invalid(field, fmt.Sprintf("at most %d bytes", MaxKeyLen))
	case strings.ContainsAny(key, "/\n\r"):
		return herald.Invalid(field, "must not contain a slash or a line break")
	}
	return herald.CheckText(field, key)
}

// PutIntegration creates or replaces the integration providerConfigKey of
// env from a PUT body, already parsed as generic JSON (canonjson). A
// credential left out keeps its stored value (secrets are write-only, so a
// read-modify-write must not wipe them); null or "" removes it.
func (s *Service) PutIntegration(ctx context.Context, envID, providerConfigKey string, body any) (*herald.Integration, bool, error) {
	if err := CheckKey("providerConfigKey", providerConfigKey); err != nil {
		return nil, false, err
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return nil, false, herald.Invalid("", "body must be a JSON object")
	}
	in := &herald.Integration{EnvironmentID: envID, ProviderConfigKey: providerConfigKey, ForwardWebhooks: true}
	cur, err := s.cfg.Store.Integration(ctx, envID, providerConfigKey)
	switch {
	case err == nil:
		in.ClientSecret, in.WebhookSecret = cur.ClientSecret, cur.WebhookSecret
	case herald.ErrorCodeOf(err) != herald.ErrorNotFound:
		return nil, false, err
	}
	if _, present := obj["provider"]; !present {
		return nil, false, herald.Invalid("provider", "required")
	}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch k {
		case "provider":
			p, ok := v.(string)
			if !ok {
				return nil, false, herald.Invalid(k, "must be a string")
			}
			if !s.cfg.KnownProvider(p) {
				return nil, false, herald.Invalid(k, fmt.Sprintf("unknown provider %q (see docs/forwarding.md for the list)", p))
			}
			in.Provider = p
		case "forward_webhooks":
			b, ok := v.(bool)
			if !ok {
				return nil, false, herald.Invalid(k, "must be a boolean")
			}
			in.ForwardWebhooks = b
		case "require_signature":
			if v != nil {
				b, ok := v.(bool)
				if !ok {
					return nil, false, herald.Invalid(k, "must be a boolean or null")
				}
				in.RequireSignature = &b
			}
		case "max_body_bytes":
			n, err := optionalInt(k, v, 1, herald.MaxInboundBodyBytes)
			if err != nil {
				return nil, false, err
			}
			in.MaxBodyBytes = n
		case "rate_limit_per_s":
			n, err := optionalInt(k, v, 1, MaxRateLimit)
			if err != nil {
				return nil, false, err
			}
			in.RateLimitPerS = int(n)
		case "credentials":
			if err := applyCredentials(in, v); err != nil {
				return nil, false, err
			}
		default:
			return nil, false, herald.Invalid(k, "unknown field")
		}
	}
	now := s.cfg.Now().UTC()
	in.CreatedAt, in.UpdatedAt = now, now
	created, err := s.cfg.Store.PutIntegration(ctx, in)
	if err != nil {
		return nil, false, err
	}
	return in, created, nil
}

func applyCredentials(in *herald.Integration, v any) error {
	if v == nil {
		in.ClientID, in.ClientSecret, in.WebhookSecret = "", "", ""
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return herald.Invalid("credentials", "must be an object")
	}
	fields := map[string]*string{"client_id": &in.ClientID, "client_secret": &in.ClientSecret, "webhook_secret": &in.WebhookSecret}
	for _, k := range sortedKeys(obj) {
		dst, ok := fields[k]
		field := "credentials." + k
		if !ok {
			return herald.Invalid(field, "unknown field")
		}
		switch s := obj[k].(type) {
		case nil:
			*dst = ""
		case string:
			if len(s) > maxSecretLen {
				return herald.Invalid(field, fmt.Sprintf("at most %d bytes", maxSecretLen))
			}
			if err := herald.CheckText(field, s); err != nil {
				return err
			}
			*dst = s
		default:
			return herald.Invalid(field, "must be a string or null")
		}
	}
	return nil
}

// optionalInt reads an integer field in [lo, hi]; null is 0 (the default).
func optionalInt(field string, v any, lo, hi int64) (int64, error) {
	if v == nil {
		return 0, nil
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		return 0, herald.Invalid(field, "must be an integer or null")
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, herald.Invalid(field, fmt.Sprintf("must be between %d and %d", lo, hi))
	}
	return int64(f), nil
}

// PutConnection creates or replaces a connection from a PUT body, already
// parsed as generic JSON. Fields left out are empty: connection_config,
// metadata and tags {} and no webhook_url_override.
func (s *Service) PutConnection(ctx context.Context, envID, providerConfigKey, connectionID string, body any) (*herald.Connection, bool, error) {
	if err := CheckKey("providerConfigKey", providerConfigKey); err != nil {
		return nil, false, err
	}
	if err := CheckKey("connectionId", connectionID); err != nil {
		return nil, false, err
	}
	obj, ok := body.(map[string]any)
	if !ok {
		return nil, false, herald.Invalid("", "body must be a JSON object")
	}
	c := &herald.Connection{EnvironmentID: envID, ProviderConfigKey: providerConfigKey, ConnectionID: connectionID}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch k {
		case "connection_config", "metadata", "tags":
			b, err := objectField(k, v, k == "tags")
			if err != nil {
				return nil, false, err
			}
			switch k {
			case "connection_config":
				c.ConnectionConfig = b
			case "metadata":
				c.Metadata = b
			default:
				c.Tags = b
			}
		case "webhook_url_override":
			u, err := s.overrideURL(ctx, v)
			if err != nil {
				return nil, false, err
			}
			c.WebhookURLOverride = u
		default:
			return nil, false, herald.Invalid(k, "unknown field")
		}
	}
	for _, p := range []*[]byte{&c.ConnectionConfig, &c.Metadata, &c.Tags} {
		if *p == nil {
			*p = []byte("{}")
		}
	}
	now := s.cfg.Now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	created, err := s.cfg.Store.PutConnection(ctx, c)
	if err != nil {
		return nil, false, err
	}
	return c, created, nil
}

// objectField checks a JSON object field and returns its canonical bytes;
// null is {}. strings requires every value to be a string (tags).
func objectField(field string, v any, strings bool) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, herald.Invalid(field, "must be an object or null")
	}
	for _, k := range sortedKeys(obj) {
		if err := herald.CheckText(field+"."+k, k); err != nil {
			return nil, err
		}
		if strings {
			s, ok := obj[k].(string)
			if !ok {
				return nil, herald.Invalid(field+"."+k, "must be a string")
			}
			if err := herald.CheckText(field+"."+k, s); err != nil {
				return nil, err
			}
		}
	}
	return canonjson.Marshal(obj)
}

// overrideURL checks a webhook_url_override: null or "" is none.
func (s *Service) overrideURL(ctx context.Context, v any) (string, error) {
	const field = "webhook_url_override"
	if v == nil {
		return "", nil
	}
	u, ok := v.(string)
	if !ok {
		return "", herald.Invalid(field, "must be a string or null")
	}
	if strings.TrimSpace(u) == "" {
		return "", nil
	}
	if _, err := herald.ValidateURL(u); err != nil {
		return "", herald.Invalid(field, err.Error())
	}
	if s.cfg.CheckURL != nil {
		if err := s.cfg.CheckURL(ctx, u); err != nil {
			return "", herald.Invalid(field, err.Error())
		}
	}
	return u, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DeleteIntegration deletes an integration and its connections.
func (s *Service) DeleteIntegration(ctx context.Context, envID, providerConfigKey string) error {
	return s.cfg.Store.DeleteIntegration(ctx, envID, providerConfigKey)
}

// DeleteConnection deletes a connection.
func (s *Service) DeleteConnection(ctx context.Context, envID, providerConfigKey, connectionID string) error {
	return s.cfg.Store.DeleteConnection(ctx, envID, providerConfigKey, connectionID)
}
