package herald

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// Defaults of an integration's inbound limits (docs/forwarding.md).
const (
	// DefaultInboundBodyBytes is the largest provider body accepted when
	// the integration sets no max_body_bytes.
	DefaultInboundBodyBytes = 1 << 20
	// MaxInboundBodyBytes bounds what an integration may set.
	MaxInboundBodyBytes = 8 << 20
	// DefaultInboundRatePerS is the inbound rate limit (requests per
	// second, per environment and integration, per process) when the
	// integration sets none.
	DefaultInboundRatePerS = 1000
)

// Integration is a provider configured in an environment (SPEC §8): where
// forwarded webhooks come from, and the secrets that verify them.
// ClientSecret and WebhookSecret are write-only: the API never returns them.
type Integration struct {
	EnvironmentID     string
	ProviderConfigKey string
	// Provider names the entry of the forwarding provider table
	// ("hubspot", "github-app", "unauthenticated", …).
	Provider        string
	ForwardWebhooks bool
	ClientID        string
	ClientSecret    string
	WebhookSecret   string
	// RequireSignature refuses unsigned requests; nil: true once a secret
	// is set.
	RequireSignature *bool
	// MaxBodyBytes is the largest provider body accepted; 0:
	// DefaultInboundBodyBytes.
	MaxBodyBytes int64
	// RateLimitPerS is the inbound requests per second allowed; 0:
	// DefaultInboundRatePerS.
	RateLimitPerS int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// BodyLimit is the largest provider body accepted for in.
func (in *Integration) BodyLimit() int64 {
	if in.MaxBodyBytes > 0 {
		return in.MaxBodyBytes
	}
	return DefaultInboundBodyBytes
}

// RateLimit is the inbound requests per second allowed for in.
func (in *Integration) RateLimit() int {
	if in.RateLimitPerS > 0 {
		return in.RateLimitPerS
	}
	return DefaultInboundRatePerS
}

// SignatureRequired reports whether unsigned requests are refused: as set,
// or, when unset, whenever one of the secrets is set.
func (in *Integration) SignatureRequired() bool {
	if in.RequireSignature != nil {
		return *in.RequireSignature
	}
	return in.ClientSecret != "" || in.WebhookSecret != ""
}

// Connection is one end user's connection to an integration (SPEC §8).
// ConnectionConfig, Metadata and Tags are JSON objects, stored as given
// (canonical JSON); nil is {}.
type Connection struct {
	EnvironmentID     string
	ProviderConfigKey string
	ConnectionID      string
	ConnectionConfig  []byte
	Metadata          []byte
	Tags              []byte
	// WebhookURLOverride, when not blank, replaces the environment's URLs
	// for every webhook about this connection (SPEC §5).
	WebhookURLOverride string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// ConnectionRef names a connection within an environment.
type ConnectionRef struct {
	ProviderConfigKey string
	ConnectionID      string
}

// Fields of a connection that forwarded webhooks are routed by.
const (
	FieldConnectionConfig = "connection_config"
	FieldMetadata         = "metadata"
)

// ConnectionKey is one value a connection can be found by: Name in its
// Field (FieldConnectionConfig or FieldMetadata) equals Value, compared as
// text the way PostgreSQL's ->> writes it ("123" for the number 123).
type ConnectionKey struct {
	Field string
	Name  string
	Value string
}

// Bounds of the keys a connection is indexed by.
const (
	maxKeyDepth    = 3
	maxKeysPerConn = 64
	maxKeyValueLen = 512
)

// ConnectionKeys lists the keys c can be found by, in a stable order: each
// scalar of connection_config and metadata under its top-level name (and,
// for nested objects, under the dotted path, so {"team":{"id":"T1"}} is
// found by team.id as Slack's literal {"team.id":"T1"} is), and each scalar
// element of a top-level array (Nango's metadata "contains" match). Values
// longer than 512 bytes and keys past the 64th are not indexed.
func ConnectionKeys(c *Connection) []ConnectionKey {
	var keys []ConnectionKey
	for _, f := range []struct {
		field string
		raw   []byte
	}{{FieldConnectionConfig, c.ConnectionConfig}, {FieldMetadata, c.Metadata}} {
		if len(f.raw) == 0 {
			continue
		}
		var obj map[string]any
		dec := json.NewDecoder(bytes.NewReader(f.raw))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			continue
		}
		keys = appendKeys(keys, f.field, "", obj, 1)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Value < b.Value
	})
	out := keys[:0]
	for i, k := range keys {
		if i > 0 && k == keys[i-1] {
			continue
		}
		out = append(out, k)
	}
	if len(out) > maxKeysPerConn {
		out = out[:maxKeysPerConn]
	}
	return out
}

func appendKeys(keys []ConnectionKey, field, prefix string, obj map[string]any, depth int) []ConnectionKey {
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch v := obj[k].(type) {
		case map[string]any:
			if depth < maxKeyDepth {
				keys = appendKeys(keys, field, name, v, depth+1)
			}
		case []any:
			if depth == 1 {
				for _, e := range v {
					if s, ok := KeyText(e); ok {
						keys = appendKey(keys, field, name, s)
					}
				}
			}
		default:
			if s, ok := KeyText(v); ok {
				keys = appendKey(keys, field, name, s)
			}
		}
	}
	return keys
}

func appendKey(keys []ConnectionKey, field, name, value string) []ConnectionKey {
	if len(value) > maxKeyValueLen || len(name) > maxKeyValueLen || value == "" ||
		CheckText(name, name) != nil || CheckText(name, value) != nil {
		return keys
	}
	return append(keys, ConnectionKey{Field: field, Name: name, Value: value})
}

// KeyText writes a JSON scalar as routing compares it: strings as they are,
// numbers in JavaScript's form, booleans as true/false. Objects, arrays
// and null have no text.
func KeyText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return v.String(), true
		}
		return jsNumber(f), true
	case float64:
		return jsNumber(v), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// jsNumber writes f as JavaScript's String(f) does for the numbers ids are
// made of: integers without exponent up to 1e21, others in shortest form.
func jsNumber(f float64) string {
	if f == float64(int64(f)) && f < 1e21 && f > -1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Page selects one page of a list ordered by key.
type Page struct {
	// Limit is the page size, 1–200 (callers check it).
	Limit int
	// Cursor is the key of the last item of the previous page; "": the
	// first page.
	Cursor string
}

// EventFilter selects events for the log, newest first.
type EventFilter struct {
	// Status selects events by fate (FateSkipped, FatePending, …).
	Status            string
	Type              string
	ConnectionID      string
	ProviderConfigKey string
	Since, Until      *time.Time
	Limit             int
	Cursor            string // id of the last event of the previous page
}

// RegistryStore keeps integrations and connections (SPEC §8). Writes of an
// integration, and of a connection whose webhook_url_override is or was
// set, are announced on EnvironmentChanges to other processes.
type RegistryStore interface {
	// PutIntegration creates or replaces in; created reports which.
	PutIntegration(ctx context.Context, in *Integration) (created bool, err error)
	// Integration returns one integration, or ErrNotFound.
	Integration(ctx context.Context, envID, providerConfigKey string) (*Integration, error)
	// ListIntegrations lists an environment's integrations by key.
	ListIntegrations(ctx context.Context, envID string, page Page) ([]Integration, error)
	// DeleteIntegration deletes an integration and its connections, or
	// returns ErrNotFound.
	DeleteIntegration(ctx context.Context, envID, providerConfigKey string) error

	// PutConnection creates or replaces c, and the keys it is found by
	// (ConnectionKeys); created reports which.
	PutConnection(ctx context.Context, c *Connection) (created bool, err error)
	// Connection returns one connection, or ErrNotFound.
	Connection(ctx context.Context, envID, providerConfigKey, connectionID string) (*Connection, error)
	// ListConnections lists an environment's connections ordered by
	// (provider config key, connection id); providerConfigKey "" lists
	// every integration's. The cursor is the last connection's
	// ConnectionCursor.
	ListConnections(ctx context.Context, envID, providerConfigKey string, page Page) ([]Connection, error)
	// DeleteConnection deletes a connection, or returns ErrNotFound.
	DeleteConnection(ctx context.Context, envID, providerConfigKey, connectionID string) error
	// MatchConnections returns the connections of one integration that
	// have any of keys, or whose id is one of ids, ordered by connection
	// id, each once.
	MatchConnections(ctx context.Context, envID, providerConfigKey string, keys []ConnectionKey, ids []string) ([]Connection, error)
	// URLOverrides returns the non-blank webhook_url_override of each of
	// refs that has one.
	URLOverrides(ctx context.Context, envID string, refs []ConnectionRef) (map[ConnectionRef]string, error)
}

// ConnectionCursor is the list cursor of c: its provider config key and
// connection id, joined by a newline (which neither may contain).
func ConnectionCursor(c *Connection) string {
	return c.ProviderConfigKey + "\n" + c.ConnectionID
}

// StorableKeys returns keys without those a store cannot keep as text
// (CheckText: NUL, ill-formed UTF-8), each once. No connection is found
// by such a key, so they match nothing and are dropped before a query.
func StorableKeys(keys []ConnectionKey) []ConnectionKey {
	return storable(keys, func(k ConnectionKey) bool {
		return CheckText("", k.Field) == nil && CheckText("", k.Name) == nil && CheckText("", k.Value) == nil
	})
}

// StorableIDs is StorableKeys for connection ids.
func StorableIDs(ids []string) []string {
	return storable(ids, func(id string) bool { return CheckText("", id) == nil })
}

// StorableRefs is StorableKeys for connection references.
func StorableRefs(refs []ConnectionRef) []ConnectionRef {
	return storable(refs, func(r ConnectionRef) bool {
		return CheckText("", r.ProviderConfigKey) == nil && CheckText("", r.ConnectionID) == nil
	})
}

func storable[T comparable](in []T, ok func(T) bool) []T {
	seen := make(map[T]bool, len(in))
	out := make([]T, 0, len(in))
	for _, v := range in {
		if ok(v) && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
