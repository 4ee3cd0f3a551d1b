package client

import (
	"encoding/json"
	"time"
)

// Environment is a tenant as POST /admin/environments returns it; its
// SecretKey and WebhookSigningKey are shown at creation only (empty in
// ListEnvironments).
type Environment struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	SecretKey         string    `json:"secret_key,omitempty"`
	WebhookSigningKey string    `json:"webhook_signing_key,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

// EnvironmentSettings is GET /environment: the environment the key
// belongs to, its webhook settings and its signing key.
type EnvironmentSettings struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	WebhookSettings   Settings `json:"webhook_settings"`
	WebhookSigningKey string   `json:"webhook_signing_key"`
}

// Settings are an environment's webhook settings (docs/settings.md). A
// URL that is not set (JSON null) is "".
type Settings struct {
	PrimaryURL              string      `json:"primary_url"`
	SecondaryURL            string      `json:"secondary_url"`
	OnAuthCreation          bool        `json:"on_auth_creation"`
	OnAuthRefreshError      bool        `json:"on_auth_refresh_error"`
	OnSyncError             bool        `json:"on_sync_error"`
	OnSyncCompletionAlways  bool        `json:"on_sync_completion_always"`
	OnAsyncActionCompletion bool        `json:"on_async_action_completion"`
	OnConnectionDeletion    bool        `json:"on_connection_deletion"`
	Retry                   RetryPolicy `json:"retry"`
	StandardWebhooks        bool        `json:"standard_webhooks"`
	TimeoutMS               int         `json:"timeout_ms"`
	StrictValidation        bool        `json:"strict_validation"`
	AlertURL                string      `json:"alert_url"`
}

// RetryPolicy is the "retry" setting, in one of its two forms: an
// explicit list of waits when ScheduleMS is not nil (an empty, non-nil
// list means no retries), the exponential fields otherwise.
type RetryPolicy struct {
	MaxRetries     int     `json:"max_retries"`
	InitialDelayMS int64   `json:"initial_delay_ms"`
	Multiplier     float64 `json:"multiplier"`
	MaxDelayMS     int64   `json:"max_delay_ms"`
	Jitter         float64 `json:"jitter"`
	ScheduleMS     []int64 `json:"schedule_ms,omitempty"`
}

// MarshalJSON writes the policy in its form: {"schedule_ms":[…]} alone,
// or the five exponential fields.
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	if p.ScheduleMS != nil {
		return json.Marshal(struct {
			ScheduleMS []int64 `json:"schedule_ms"`
		}{p.ScheduleMS})
	}
	type exponential RetryPolicy
	return json.Marshal(exponential(p))
}

// SettingsPatch is a PATCH /environment/webhook body: only the fields
// that are not nil are sent, and the others keep their values. A URL
// field pointing to "" removes that URL. Retry replaces the whole policy
// (fields left out of its exponential form take their defaults).
// Go 1.26's new(expr) makes the pointers:
//
//	client.SettingsPatch{PrimaryURL: new("https://app.example.com/hooks"), OnConnectionDeletion: new(true)}
type SettingsPatch struct {
	PrimaryURL              *string      `json:"primary_url,omitempty"`
	SecondaryURL            *string      `json:"secondary_url,omitempty"`
	OnAuthCreation          *bool        `json:"on_auth_creation,omitempty"`
	OnAuthRefreshError      *bool        `json:"on_auth_refresh_error,omitempty"`
	OnSyncError             *bool        `json:"on_sync_error,omitempty"`
	OnSyncCompletionAlways  *bool        `json:"on_sync_completion_always,omitempty"`
	OnAsyncActionCompletion *bool        `json:"on_async_action_completion,omitempty"`
	OnConnectionDeletion    *bool        `json:"on_connection_deletion,omitempty"`
	Retry                   *RetryPolicy `json:"retry,omitempty"`
	StandardWebhooks        *bool        `json:"standard_webhooks,omitempty"`
	TimeoutMS               *int         `json:"timeout_ms,omitempty"`
	StrictValidation        *bool        `json:"strict_validation,omitempty"`
	AlertURL                *string      `json:"alert_url,omitempty"`
}

// SendOptions are the options of the Send methods; nil means none.
type SendOptions struct {
	// IdempotencyKey, when set, makes a repeat of the request with the
	// same key and body within 24 h answer as the first did and deliver
	// nothing new; the same key with another body is 422
	// idempotency_key_reused. It also lets the Client try the request
	// again after a network error. At most 255 characters.
	IdempotencyKey string
}

// SendResult is herald's answer for one accepted event (202): its id,
// the delivery made for each target URL and, when the settings said not
// to send it, the reason (Deliveries is then empty; the event is still
// logged).
type SendResult struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	Deliveries []DeliveryRef `json:"deliveries"`
	// Skipped is why nothing was sent, such as "no_url"; "" when sent.
	Skipped string `json:"skipped"`
}

// DeliveryRef names a delivery made for an accepted event.
type DeliveryRef struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// Event is an event as GET /events lists it.
type Event struct {
	ID                string    `json:"id"`
	Type              string    `json:"type"`
	ConnectionID      string    `json:"connection_id"`
	ProviderConfigKey string    `json:"provider_config_key"`
	CreatedAt         time.Time `json:"created_at"`
	// Status is the event's fate: skipped, pending, succeeded or failed.
	Status string `json:"status"`
	// Skipped is why nothing was sent; "" when something was.
	Skipped string `json:"skipped"`
	// UnknownFields lists the body's fields that herald does not know
	// (kept and delivered).
	UnknownFields []string `json:"unknown_fields"`
	// Inbound is the log of the provider's request behind a forwarded
	// event (docs/forwarding.md); nil for other events.
	Inbound json.RawMessage `json:"inbound,omitempty"`
}

// EventDetail is GET /events/{id}: the event, its body as it is sent, and
// its deliveries (replays included).
type EventDetail struct {
	Event
	Body       json.RawMessage `json:"body"`
	Deliveries []Delivery      `json:"deliveries"`
}

// Delivery is one webhook to one URL, as GET /deliveries lists it.
type Delivery struct {
	ID      string `json:"id"`
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	URL     string `json:"url"`
	// Status is pending, sending, succeeded, failed, skipped or held.
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// NextAttemptAt is when the next attempt is due; nil when none is.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	// LastStatusCode is the status of the last attempt's answer; nil
	// before any answer (no attempt yet, or a network error).
	LastStatusCode *int `json:"last_status_code"`
	// LastError is the last attempt's failure; "" when none.
	LastError string `json:"last_error"`
}

// DeliveryDetail is GET /deliveries/{id}: the delivery, the body and
// headers it sends, and the log of its attempts.
type DeliveryDetail struct {
	Delivery
	Body           json.RawMessage   `json:"body"`
	RequestHeaders map[string]string `json:"request_headers"`
	AttemptLog     []Attempt         `json:"attempt_log"`
}

// Attempt is one try of a delivery.
type Attempt struct {
	// Number counts from 1, across rounds (a retry's attempts go on).
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	// StatusCode is the answer's status; nil when there was none.
	StatusCode *int `json:"status_code"`
	// Error is why the attempt failed; "" when it did not.
	Error string `json:"error"`
	// ResponseBody is the start of the answer's body (up to 4 KiB).
	ResponseBody string `json:"response_body"`
}

// ListParams are the filters and the page of ListEvents and
// ListDeliveries; the zero value lists the newest 50.
type ListParams struct {
	// Status is, for deliveries, one of pending, sending, succeeded,
	// failed, skipped, held; for events, their fate: skipped, pending,
	// succeeded, failed.
	Status string
	// Type is auth, sync, async_action or forward.
	Type              string
	ConnectionID      string
	ProviderConfigKey string
	// Since and Until bound the creation time, [Since, Until); zero: no
	// bound.
	Since, Until time.Time
	// Limit is the page size, 1–200; 0: herald's default, 50.
	Limit int
	// Cursor is a NextCursor of an earlier page; "": the first page.
	Cursor string
}

func (p *ListParams) query() string {
	if p == nil {
		return ""
	}
	return query("status", p.Status, "type", p.Type, "connection_id", p.ConnectionID,
		"provider_config_key", p.ProviderConfigKey, "since", stamp(p.Since), "until", stamp(p.Until),
		"limit", itoa(p.Limit), "cursor", p.Cursor)
}

// EventPage is one page of GET /events, newest first.
type EventPage struct {
	Data []Event `json:"data"`
	// NextCursor fetches the next page; "" on the last one.
	NextCursor string `json:"next_cursor"`
}

// DeliveryPage is one page of GET /deliveries, newest first.
type DeliveryPage struct {
	Data []Delivery `json:"data"`
	// NextCursor fetches the next page; "" on the last one.
	NextCursor string `json:"next_cursor"`
}

// ReplayParams select the events of a bulk replay (POST /events/replay):
// those created in [Since, Until) (both required) that the other fields,
// when set, match.
type ReplayParams struct {
	Since time.Time
	Until time.Time
	// Type is auth, sync, async_action or forward.
	Type              string
	ConnectionID      string
	ProviderConfigKey string
	// Status is the events' fate: skipped, pending, succeeded or failed.
	Status string
}
