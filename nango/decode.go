package nango

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/heraldhq/herald/canonjson"
)

// UnknownWebhook is a verified body whose "type" is none of the four this
// package knows: a type Nango added after this version, or one of herald's
// own operations events sent to an environment's alert_url
// ("endpoint.disabled", "endpoint.enabled"). Only [Decode] returns it.
type UnknownWebhook struct {
	// Type is the body's "type", e.g. "endpoint.disabled".
	Type Type
	// ConnectionID and ProviderConfigKey are the body's "connectionId" and
	// "providerConfigKey" when they are strings, else "".
	ConnectionID      string
	ProviderConfigKey string
	// Raw is the body exactly as received (a copy), to decode further with
	// encoding/json or canonjson.
	Raw json.RawMessage
}

// WebhookType returns the body's "type".
func (w *UnknownWebhook) WebhookType() Type { return w.Type }

// ConnectionRef returns the body's connectionId and providerConfigKey, or
// "" for either when the body has no such string.
func (w *UnknownWebhook) ConnectionRef() (string, string) {
	return w.ConnectionID, w.ProviderConfigKey
}

// Canonical fails with a *ValidationError: herald sends no body of a type
// it does not know. Raw holds the bytes as received.
func (w *UnknownWebhook) Canonical() ([]byte, error) {
	return nil, invalid("type", fmt.Sprintf("must be one of %q", []Type{TypeAuth, TypeSync, TypeAsyncAction, TypeForward}))
}

// Decode decodes a webhook body for a receiving app. It is lenient where
// [ParseWebhook] is strict, because the body has already been verified and
// refusing it would only make the sender retry it in vain:
//
//   - A body that ParseWebhook accepts decodes to exactly what ParseWebhook
//     returns.
//   - A body of one of the four known types that Nango's types would not
//     allow (a missing field, an enum value newer than this package, a
//     timestamp in another form, a value of another JSON type) still
//     decodes to its type: what has the expected JSON type is filled in,
//     the rest is left at its zero value. Error is set (possibly empty)
//     whenever Success is false, and a successful sync always has
//     ResponseResults, so that code written for valid bodies does not meet
//     a nil pointer. Such a webhook's Canonical may fail.
//   - A body of any other "type" decodes to an *UnknownWebhook, never an
//     error: Nango adds types without notice.
//   - Fields a type does not declare are kept in its Extra maps, as
//     ParseWebhook keeps them; [UnknownFields] lists them.
//
// Decode fails only for a body that is not a webhook at all: not JSON
// (the error wraps the *canonjson.SyntaxError), not a JSON object, or
// without a string "type". Every error matches [ErrInvalidBody].
//
// Verify the signature over body before decoding it ([Verifier] does both).
func Decode(body []byte) (Webhook, error) {
	v, err := canonjson.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBody, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: a JSON object is required (got %s)", ErrInvalidBody, jsonKind(v))
	}
	t, ok := m["type"].(string)
	if !ok {
		if _, present := m["type"]; present {
			return nil, fmt.Errorf("%w: type must be a string (got %s)", ErrInvalidBody, jsonKind(m["type"]))
		}
		return nil, fmt.Errorf("%w: type is required", ErrInvalidBody)
	}
	switch Type(t) {
	case TypeAuth, TypeSync, TypeAsyncAction, TypeForward:
	default:
		l := loose(m)
		return &UnknownWebhook{
			Type:              Type(t),
			ConnectionID:      l.str("connectionId"),
			ProviderConfigKey: l.str("providerConfigKey"),
			Raw:               bytes.Clone(body),
		}, nil
	}
	w, err := FromValue(m)
	if err == nil {
		return w, nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidBody, err)
	}
	l := loose(m)
	switch Type(t) {
	case TypeAuth:
		return l.auth(), nil
	case TypeSync:
		return l.sync(), nil
	case TypeAsyncAction:
		return l.asyncAction(), nil
	default:
		return l.forward(), nil
	}
}

// loose reads the fields of a JSON object that FromValue refused, taking
// what has the expected JSON type and leaving the rest at its zero value.
type loose map[string]any

func (l loose) str(name string) string {
	s, _ := l[name].(string)
	return s
}

func (l loose) boolean(name string) bool {
	b, _ := l[name].(bool)
	return b
}

// obj returns a field that is a JSON object, or false.
func (l loose) obj(name string) (loose, bool) {
	m, ok := l[name].(map[string]any)
	if ok && m == nil {
		m = map[string]any{}
	}
	return m, ok
}

// count returns a field that is a number, truncated towards zero, or 0
// when it is not a number or outside the int range.
func (l loose) count(name string) int {
	f, ok := l[name].(float64)
	if !ok || math.IsNaN(f) || f >= math.MaxInt || f <= math.MinInt {
		return 0
	}
	return int(f)
}

// stringMap returns a field that is a JSON object, with its string values
// (others are dropped), or nil when it is not an object.
func (l loose) stringMap(name string) map[string]string {
	m, ok := l.obj(name)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// errorPayload returns the "error" object, or an empty one when the body
// reports a failure without it.
func (l loose) errorPayload(success bool) *ErrorPayload {
	e, ok := l.obj("error")
	if !ok {
		if success {
			return nil
		}
		return &ErrorPayload{}
	}
	return &ErrorPayload{
		Type:        e.str("type"),
		Description: e.str("description"),
		Extra:       without(e, []string{"type", "description"}),
	}
}

func (l loose) from() string { return orDefault(l.str("from"), DefaultFrom) }

func (l loose) auth() *AuthWebhook {
	w := &AuthWebhook{
		From:              l.from(),
		ConnectionID:      l.str("connectionId"),
		ProviderConfigKey: l.str("providerConfigKey"),
		AuthMode:          l.str("authMode"),
		Provider:          l.str("provider"),
		Environment:       l.str("environment"),
		Operation:         l.str("operation"),
		Success:           l.boolean("success"),
		Tags:              l.stringMap("tags"),
	}
	w.Error = l.errorPayload(w.Success)
	if eu, ok := l.obj("endUser"); ok {
		u := &EndUser{EndUserID: eu.str("endUserId"), Tags: eu.stringMap("tags")}
		switch v, ok := eu["endUserEmail"]; {
		case !ok:
			u.emailAbsent = true
		case v != nil:
			if s, ok := v.(string); ok {
				u.EndUserEmail = &s
			}
		}
		if s, ok := eu["organizationId"].(string); ok {
			u.OrganizationID = &s
		}
		u.Extra = without(eu, []string{"endUserId", "endUserEmail", "organizationId", "tags"})
		w.EndUser = u
	}
	w.Extra = without(l, []string{"type", "from", "connectionId", "providerConfigKey", "authMode",
		"provider", "environment", "operation", "success", "error", "tags", "endUser"})
	return w
}

func (l loose) sync() *SyncWebhook {
	w := &SyncWebhook{
		From:              l.from(),
		ConnectionID:      l.str("connectionId"),
		ProviderConfigKey: l.str("providerConfigKey"),
		SyncName:          l.str("syncName"),
		SyncVariant:       orDefault(l.str("syncVariant"), DefaultSyncVariant),
		Model:             l.str("model"),
		SyncType:          l.str("syncType"),
		Success:           l.boolean("success"),
		ModifiedAfter:     l.str("modifiedAfter"),
		StartedAt:         l.str("startedAt"),
		FailedAt:          l.str("failedAt"),
	}
	if cp, ok := l.obj("checkpoints"); ok {
		c := &Checkpoints{}
		for _, side := range []struct {
			name string
			dst  *map[string]any
			null nullSet
		}{
			{"from", &c.From, nullCheckpointFrom},
			{"to", &c.To, nullCheckpointTo},
		} {
			switch v, ok := cp[side.name]; {
			case ok && v == nil:
				c.nulls |= side.null
			case ok:
				if m, isObj := cp.obj(side.name); isObj {
					*side.dst = m
				}
			}
		}
		c.Extra = without(cp, []string{"from", "to"})
		w.Checkpoints = c
	}
	if rr, ok := l.obj("responseResults"); ok {
		w.ResponseResults = &ResponseResults{
			Added:   rr.count("added"),
			Updated: rr.count("updated"),
			Deleted: rr.count("deleted"),
			Extra:   without(rr, []string{"added", "updated", "deleted"}),
		}
	} else if w.Success {
		w.ResponseResults = &ResponseResults{}
	}
	switch v, ok := l["queryTimeStamp"]; {
	case ok && v == nil:
		w.nulls |= nullQueryTimeStamp
	case ok:
		if s, isStr := v.(string); isStr {
			w.QueryTimeStamp = &s
		}
	}
	w.Error = l.errorPayload(w.Success)
	w.Extra = without(l, []string{"type", "from", "connectionId", "providerConfigKey", "syncName",
		"syncVariant", "model", "syncType", "checkpoints", "success", "responseResults",
		"modifiedAfter", "queryTimeStamp", "error", "startedAt", "failedAt"})
	return w
}

func (l loose) asyncAction() *AsyncActionWebhook {
	w := &AsyncActionWebhook{
		From:              l.from(),
		ConnectionID:      l.str("connectionId"),
		ProviderConfigKey: l.str("providerConfigKey"),
	}
	if p, ok := l.obj("payload"); ok {
		w.Payload = AsyncActionResult{
			ID:        p.str("id"),
			StatusURL: p.str("statusUrl"),
			Extra:     without(p, []string{"id", "statusUrl"}),
		}
	}
	w.Extra = without(l, []string{"type", "from", "connectionId", "providerConfigKey", "payload"})
	return w
}

func (l loose) forward() *ForwardWebhook {
	w := &ForwardWebhook{
		From:              l.from(),
		ConnectionID:      l.str("connectionId"),
		ProviderConfigKey: l.str("providerConfigKey"),
		Payload:           l["payload"],
	}
	w.Extra = without(l, []string{"type", "from", "connectionId", "providerConfigKey", "payload"})
	return w
}
