package nango

import (
	"github.com/heraldhq/herald/canonjson"
)

// Type is the value of a webhook body's "type" field.
type Type string

// The four webhook types Nango sends.
const (
	TypeAuth        Type = "auth"
	TypeSync        Type = "sync"
	TypeAsyncAction Type = "async_action"
	TypeForward     Type = "forward"
)

// DefaultFrom is the "from" value written when a body does not carry one.
const DefaultFrom = "nango"

// DefaultSyncVariant is the "syncVariant" value written when a sync body does
// not carry one.
const DefaultSyncVariant = "base"

// Values of AuthWebhook.Operation.
const (
	OperationCreation = "creation"
	OperationOverride = "override"
	OperationRefresh  = "refresh"
	OperationDeletion = "deletion"
)

// Values of SyncWebhook.SyncType.
const (
	SyncTypeInitial     = "INITIAL"
	SyncTypeIncremental = "INCREMENTAL"
	SyncTypeWebhook     = "WEBHOOK"
)

// Webhook is one of *AuthWebhook, *SyncWebhook, *AsyncActionWebhook or
// *ForwardWebhook, or, from [Decode] only, *UnknownWebhook.
type Webhook interface {
	// WebhookType reports the body's "type".
	WebhookType() Type
	// ConnectionRef reports the connection the webhook is about.
	ConnectionRef() (connectionID, providerConfigKey string)
	// Canonical returns the exact bytes herald sends and signs: the
	// canonical JSON (package canonjson) of the body, with "type" set,
	// "from" defaulting to "nango" and, for sync, "syncVariant" defaulting
	// to "base". The webhook is validated first, exactly as FromValue
	// would, so a value built by hand that Nango would not send is an error
	// (a *ValidationError) rather than bytes.
	Canonical() ([]byte, error)
}

// ErrorPayload is the "error" object of a failed auth or sync webhook.
type ErrorPayload struct {
	// Type is a short machine-readable code, e.g. "refresh_token_external_error".
	Type string `json:"type"`
	// Description is the human-readable message; it may be empty.
	Description string `json:"description"`
	// Extra holds every other field of the error object, kept verbatim as
	// parsed JSON values (nil, bool, float64, string, []any, map[string]any):
	// "payload" (both types), "additional_properties" (sync) and any field
	// Nango adds later. Extra is nil when there are none.
	Extra map[string]any `json:"-"`
}

// EndUser identifies the end user of a connection created with a connect
// session token.
type EndUser struct {
	// EndUserID is the app's own id for the user.
	EndUserID string `json:"endUserId"`
	// EndUserEmail is the user's email; nil is sent as JSON null (or left
	// out, when a parsed body did not carry the field).
	EndUserEmail *string `json:"endUserEmail"`
	// OrganizationID is the user's organization; nil means absent.
	OrganizationID *string `json:"organizationId,omitempty"`
	// Tags are the end user's tags; always sent, possibly empty.
	Tags map[string]string `json:"tags"`
	// Extra holds fields Nango's types do not declare, kept verbatim.
	Extra map[string]any `json:"-"`

	// emailAbsent records that a parsed body had no endUserEmail, so that
	// Canonical leaves it out rather than writing null.
	emailAbsent bool
}

// AuthWebhook is a "type":"auth" body: a connection was created,
// overridden, failed to refresh its credentials, or was deleted.
type AuthWebhook struct {
	// From is the sender; "nango" when empty.
	From              string `json:"from"`
	ConnectionID      string `json:"connectionId"`
	ProviderConfigKey string `json:"providerConfigKey"`
	// AuthMode is Nango's auth mode, e.g. "OAUTH2", "API_KEY".
	AuthMode string `json:"authMode"`
	// Provider is the provider's name in Nango's catalogue, e.g. "google".
	Provider string `json:"provider"`
	// Environment is the Nango environment name, e.g. "prod".
	Environment string `json:"environment"`
	// Operation is one of OperationCreation, OperationOverride,
	// OperationRefresh, OperationDeletion.
	Operation string `json:"operation"`
	Success   bool   `json:"success"`
	// Error is set exactly when Success is false.
	Error *ErrorPayload `json:"error,omitempty"`
	// Tags are the connection's tags; nil means absent, an empty non-nil
	// map is sent as {}.
	Tags map[string]string `json:"tags,omitempty"`
	// EndUser is set when the connection was made with a session token.
	EndUser *EndUser `json:"endUser,omitempty"`
	// Extra holds the body's fields that Nango's types do not declare, kept
	// verbatim and delivered (see [UnknownFields]); nil when there are none.
	Extra map[string]any `json:"-"`
}

// ResponseResults counts the records a sync run changed.
type ResponseResults struct {
	Added   int `json:"added"`
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`
	// Extra holds fields Nango's types do not declare, kept verbatim.
	Extra map[string]any `json:"-"`
}

// Checkpoints are the sync's checkpoint before and after the run. Each side
// is a JSON object kept verbatim, or nil.
type Checkpoints struct {
	From map[string]any `json:"from"`
	To   map[string]any `json:"to"`
	// Extra holds fields Nango's types do not declare, kept verbatim.
	Extra map[string]any `json:"-"`

	// nulls records which sides a parsed body carried as JSON null, so
	// that Canonical writes them back; a nil side is otherwise omitted.
	nulls nullSet
}

// SyncWebhook is a "type":"sync" body: a sync run for one model finished,
// successfully or not.
type SyncWebhook struct {
	// From is the sender; "nango" when empty.
	From              string `json:"from"`
	ConnectionID      string `json:"connectionId"`
	ProviderConfigKey string `json:"providerConfigKey"`
	SyncName          string `json:"syncName"`
	// SyncVariant is the sync's variant; "base" when empty.
	SyncVariant string `json:"syncVariant"`
	Model       string `json:"model"`
	// SyncType is one of SyncTypeInitial, SyncTypeIncremental,
	// SyncTypeWebhook.
	SyncType    string       `json:"syncType"`
	Checkpoints *Checkpoints `json:"checkpoints,omitempty"`
	Success     bool         `json:"success"`

	// Set when Success is true.

	ResponseResults *ResponseResults `json:"responseResults,omitempty"`
	// ModifiedAfter is an ISO-8601 timestamp with milliseconds and Z.
	ModifiedAfter string `json:"modifiedAfter,omitempty"`
	// QueryTimeStamp is the legacy twin of ModifiedAfter. nil means absent,
	// or JSON null when a parsed body carried null (which Canonical keeps).
	QueryTimeStamp *string `json:"queryTimeStamp,omitempty"`

	// Set when Success is false.

	Error *ErrorPayload `json:"error,omitempty"`
	// StartedAt and FailedAt are ISO-8601 timestamps with milliseconds and Z.
	StartedAt string `json:"startedAt,omitempty"`
	FailedAt  string `json:"failedAt,omitempty"`

	// Extra holds the body's fields that Nango's types do not declare, kept
	// verbatim and delivered (see [UnknownFields]); nil when there are none.
	Extra map[string]any `json:"-"`

	nulls nullSet
}

// AsyncActionResult identifies a finished asynchronous action.
type AsyncActionResult struct {
	ID string `json:"id"`
	// StatusURL is the path at which the action's result can be fetched.
	StatusURL string `json:"statusUrl"`
	// Extra holds fields Nango's types do not declare, kept verbatim.
	Extra map[string]any `json:"-"`
}

// AsyncActionWebhook is a "type":"async_action" body: an action triggered
// asynchronously has finished.
type AsyncActionWebhook struct {
	// From is the sender; "nango" when empty.
	From              string            `json:"from"`
	ConnectionID      string            `json:"connectionId"`
	ProviderConfigKey string            `json:"providerConfigKey"`
	Payload           AsyncActionResult `json:"payload"`
	// Extra holds the body's fields that Nango's types do not declare, kept
	// verbatim and delivered (see [UnknownFields]); nil when there are none.
	Extra map[string]any `json:"-"`
}

// ForwardWebhook is a "type":"forward" body: a webhook received from the
// provider, attributed to one connection and forwarded.
type ForwardWebhook struct {
	// From is the provider's name, e.g. "hubspot"; "nango" when empty.
	From string `json:"from"`
	// ConnectionID is the matched connection; empty (and left out of the
	// body) when the provider's webhook matched none.
	ConnectionID      string `json:"connectionId,omitempty"`
	ProviderConfigKey string `json:"providerConfigKey"`
	// Payload is the provider's body, any JSON value kept verbatim (nil is
	// JSON null).
	Payload any `json:"payload"`
	// Extra holds the body's fields that Nango's types do not declare, kept
	// verbatim and delivered (see [UnknownFields]); nil when there are none.
	Extra map[string]any `json:"-"`
}

// nullSet records fields that a parsed body carried as explicit JSON null
// where null and absent are both allowed.
type nullSet uint8

const (
	nullQueryTimeStamp nullSet = 1 << iota
	nullCheckpointFrom
	nullCheckpointTo
)

// WebhookType returns TypeAuth.
func (*AuthWebhook) WebhookType() Type { return TypeAuth }

// WebhookType returns TypeSync.
func (*SyncWebhook) WebhookType() Type { return TypeSync }

// WebhookType returns TypeAsyncAction.
func (*AsyncActionWebhook) WebhookType() Type { return TypeAsyncAction }

// WebhookType returns TypeForward.
func (*ForwardWebhook) WebhookType() Type { return TypeForward }

// ConnectionRef returns the connection id and provider config key.
func (w *AuthWebhook) ConnectionRef() (string, string) {
	return w.ConnectionID, w.ProviderConfigKey
}

// ConnectionRef returns the connection id and provider config key.
func (w *SyncWebhook) ConnectionRef() (string, string) {
	return w.ConnectionID, w.ProviderConfigKey
}

// ConnectionRef returns the connection id and provider config key.
func (w *AsyncActionWebhook) ConnectionRef() (string, string) {
	return w.ConnectionID, w.ProviderConfigKey
}

// ConnectionRef returns the connection id and provider config key.
func (w *ForwardWebhook) ConnectionRef() (string, string) {
	return w.ConnectionID, w.ProviderConfigKey
}

// ParseWebhook parses a webhook body as JavaScript's JSON.parse would
// (package canonjson) and validates it with FromValue. A JSON syntax error is
// returned as is (a *canonjson.SyntaxError); a body that is valid JSON but not
// a valid webhook gives a *ValidationError.
//
// ParseWebhook is the strict validator herald applies to the events it
// accepts. A receiving app decodes with [Decode] instead, which never
// refuses a body of a type it does not know, or one that Nango's types
// would not allow.
func ParseWebhook(body []byte) (Webhook, error) {
	v, err := canonjson.Parse(body)
	if err != nil {
		return nil, err
	}
	return FromValue(v)
}

// Canonical returns the bytes herald sends and signs for w.
func (w *AuthWebhook) Canonical() ([]byte, error) { return canonical(w.value()) }

// Canonical returns the bytes herald sends and signs for w.
func (w *SyncWebhook) Canonical() ([]byte, error) { return canonical(w.value()) }

// Canonical returns the bytes herald sends and signs for w.
func (w *AsyncActionWebhook) Canonical() ([]byte, error) { return canonical(w.value()) }

// Canonical returns the bytes herald sends and signs for w.
func (w *ForwardWebhook) Canonical() ([]byte, error) { return canonical(w.value()) }

// canonical validates the JSON value of a webhook, so that no bytes are ever
// produced for a body Nango would not send, and encodes it.
func canonical(v map[string]any) ([]byte, error) {
	if _, err := FromValue(v); err != nil {
		return nil, err
	}
	return canonjson.Marshal(v)
}

// smallCounts are the float64 values 0..255 already in interfaces:
// boxing a count in value otherwise allocates, and most are small.
var smallCounts = func() (t [256]any) {
	for i := range t {
		t[i] = float64(i)
	}
	return t
}()

// countValue returns n as the float64 JSON.parse would have made of it.
func countValue(n int) any {
	if n >= 0 && n < len(smallCounts) {
		return smallCounts[n]
	}
	return float64(n)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// withExtra returns a map holding extra's fields, with room for n more; the
// known fields written after it take precedence.
func withExtra(extra map[string]any, n int) map[string]any {
	out := make(map[string]any, len(extra)+n)
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func stringMapValue(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (e *ErrorPayload) value() map[string]any {
	out := withExtra(e.Extra, 2)
	out["type"] = e.Type
	out["description"] = e.Description
	return out
}

func (w *AuthWebhook) value() map[string]any {
	m := withExtra(w.Extra, 12)
	m["type"] = string(TypeAuth)
	m["from"] = orDefault(w.From, DefaultFrom)
	m["connectionId"] = w.ConnectionID
	m["providerConfigKey"] = w.ProviderConfigKey
	m["authMode"] = w.AuthMode
	m["provider"] = w.Provider
	m["environment"] = w.Environment
	m["operation"] = w.Operation
	m["success"] = w.Success
	if w.Error != nil {
		m["error"] = w.Error.value()
	}
	if w.Tags != nil {
		m["tags"] = stringMapValue(w.Tags)
	}
	if u := w.EndUser; u != nil {
		eu := withExtra(u.Extra, 4)
		eu["endUserId"] = u.EndUserID
		eu["tags"] = stringMapValue(u.Tags)
		if u.EndUserEmail != nil {
			eu["endUserEmail"] = *u.EndUserEmail
		} else if !u.emailAbsent {
			eu["endUserEmail"] = nil
		}
		if u.OrganizationID != nil {
			eu["organizationId"] = *u.OrganizationID
		}
		m["endUser"] = eu
	}
	return m
}

func (w *SyncWebhook) value() map[string]any {
	m := withExtra(w.Extra, 16)
	m["type"] = string(TypeSync)
	m["from"] = orDefault(w.From, DefaultFrom)
	m["connectionId"] = w.ConnectionID
	m["providerConfigKey"] = w.ProviderConfigKey
	m["syncName"] = w.SyncName
	m["syncVariant"] = orDefault(w.SyncVariant, DefaultSyncVariant)
	m["model"] = w.Model
	m["syncType"] = w.SyncType
	m["success"] = w.Success
	if c := w.Checkpoints; c != nil {
		cm := withExtra(c.Extra, 2)
		if c.From != nil {
			cm["from"] = c.From
		} else if c.nulls&nullCheckpointFrom != 0 {
			cm["from"] = nil
		}
		if c.To != nil {
			cm["to"] = c.To
		} else if c.nulls&nullCheckpointTo != 0 {
			cm["to"] = nil
		}
		m["checkpoints"] = cm
	}
	if r := w.ResponseResults; r != nil {
		rm := withExtra(r.Extra, 3)
		rm["added"] = countValue(r.Added)
		rm["updated"] = countValue(r.Updated)
		rm["deleted"] = countValue(r.Deleted)
		m["responseResults"] = rm
	}
	if w.ModifiedAfter != "" {
		m["modifiedAfter"] = w.ModifiedAfter
	}
	if w.QueryTimeStamp != nil {
		m["queryTimeStamp"] = *w.QueryTimeStamp
	} else if w.nulls&nullQueryTimeStamp != 0 {
		m["queryTimeStamp"] = nil
	}
	if w.Error != nil {
		m["error"] = w.Error.value()
	}
	if w.StartedAt != "" {
		m["startedAt"] = w.StartedAt
	}
	if w.FailedAt != "" {
		m["failedAt"] = w.FailedAt
	}
	return m
}

func (w *AsyncActionWebhook) value() map[string]any {
	p := withExtra(w.Payload.Extra, 2)
	p["id"] = w.Payload.ID
	p["statusUrl"] = w.Payload.StatusURL
	m := withExtra(w.Extra, 5)
	m["type"] = string(TypeAsyncAction)
	m["from"] = orDefault(w.From, DefaultFrom)
	m["connectionId"] = w.ConnectionID
	m["providerConfigKey"] = w.ProviderConfigKey
	m["payload"] = p
	return m
}

func (w *ForwardWebhook) value() map[string]any {
	m := withExtra(w.Extra, 5)
	m["type"] = string(TypeForward)
	m["from"] = orDefault(w.From, DefaultFrom)
	if w.ConnectionID != "" {
		m["connectionId"] = w.ConnectionID
	}
	m["providerConfigKey"] = w.ProviderConfigKey
	m["payload"] = w.Payload
	return m
}
