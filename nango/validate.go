package nango

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// ValidationError reports why a value is not a webhook Nango would send.
type ValidationError struct {
	// Field is the offending field as a dotted path from the top of the
	// body, e.g. "type", "endUser.endUserEmail", "responseResults.added",
	// "tags.team". It is "" when the body as a whole is wrong (not a JSON
	// object).
	Field string
	// Msg says what is wrong, e.g. "required", "must be a string (got null)".
	Msg string
}

// Error returns "<field>: <msg>", or just the message when Field is "".
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER: counts above it
// cannot be represented exactly by Nango either.
const maxSafeInteger = 1<<53 - 1

// timestampLayout is the only timestamp form Nango sends (Date.toISOString).
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

func invalid(field, msg string) *ValidationError {
	return &ValidationError{Field: field, Msg: msg}
}

// jsonKind names the JSON type of a parsed value for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64, int, int64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func wrongType(field, want string, got any) *ValidationError {
	return invalid(field, fmt.Sprintf("must be %s (got %s)", want, jsonKind(got)))
}

// object reads the fields of one JSON object, building error paths.
type object struct {
	m    map[string]any
	path string
}

func (o object) field(name string) string {
	if o.path == "" {
		return name
	}
	return o.path + "." + name
}

// extras returns the fields of o that are not among known, kept verbatim,
// or nil when there are none. Nango adds fields to its bodies without
// notice, so an unknown field is carried along rather than refused; the
// caller that wants typos caught refuses what [UnknownFields] lists.
func (o object) extras(known ...string) map[string]any { return without(o.m, known) }

// without returns the fields of m not among known, or nil when there are
// none.
func without(m map[string]any, known []string) map[string]any {
	var out map[string]any
	for k, v := range m {
		if slices.Contains(known, k) {
			continue
		}
		if out == nil {
			out = make(map[string]any)
		}
		out[k] = v
	}
	return out
}

// forbid rejects any of names present in o, saying why.
func (o object) forbid(why string, names ...string) error {
	for _, n := range names {
		if _, ok := o.m[n]; ok {
			return invalid(o.field(n), "not allowed "+why)
		}
	}
	return nil
}

// str reads a string field. A required field must be present; a present
// nonEmpty field must not be "".
func (o object) str(name string, required, nonEmpty bool) (s string, present bool, err error) {
	v, ok := o.m[name]
	if !ok {
		if required {
			return "", false, invalid(o.field(name), "required")
		}
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", true, wrongType(o.field(name), "a string", v)
	}
	if nonEmpty && s == "" {
		return "", true, invalid(o.field(name), "must not be empty")
	}
	return s, true, nil
}

// id reads a required, non-empty string.
func (o object) id(name string) (string, error) {
	s, _, err := o.str(name, true, true)
	return s, err
}

// from reads the optional "from" field, defaulting to DefaultFrom.
func (o object) from() (string, error) {
	s, ok, err := o.str("from", false, true)
	if err != nil || !ok {
		return DefaultFrom, err
	}
	return s, nil
}

func (o object) enum(name string, values ...string) (string, error) {
	s, _, err := o.str(name, true, false)
	if err != nil {
		return "", err
	}
	if !slices.Contains(values, s) {
		// Written out rather than with fmt's %q of values, which would
		// make every call allocate its list of values.
		msg := "must be one of ["
		for i, v := range values {
			if i > 0 {
				msg += " "
			}
			msg += strconv.Quote(v)
		}
		return "", invalid(o.field(name), msg+"]")
	}
	return s, nil
}

func (o object) boolean(name string) (bool, error) {
	v, ok := o.m[name]
	if !ok {
		return false, invalid(o.field(name), "required")
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, wrongType(o.field(name), "a boolean", v)
	}
	return b, nil
}

// sub reads an object-valued field. present is false when the field is
// absent (which is an error only if required).
func (o object) sub(name string, required bool) (sub object, present bool, err error) {
	v, ok := o.m[name]
	if !ok {
		if required {
			return object{}, false, invalid(o.field(name), "required")
		}
		return object{}, false, nil
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return object{}, true, wrongType(o.field(name), "an object", v)
	}
	if m == nil {
		m = map[string]any{}
	}
	return object{m: m, path: o.field(name)}, true, nil
}

// timestamp reads a required ISO-8601 timestamp.
func (o object) timestamp(name string) (string, error) {
	s, _, err := o.str(name, true, false)
	if err != nil {
		return "", err
	}
	if !validTimestamp(s) {
		return "", invalid(o.field(name), "must be an ISO-8601 timestamp like 2006-01-02T15:04:05.000Z")
	}
	return s, nil
}

// validTimestamp accepts exactly YYYY-MM-DDTHH:MM:SS.sssZ naming a real
// instant, the form JavaScript's Date.prototype.toISOString writes.
func validTimestamp(s string) bool {
	if len(s) != len("2006-01-02T15:04:05.000Z") || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		case 13, 16:
			if c != ':' {
				return false
			}
		case 19:
			if c != '.' {
				return false
			}
		case 23:
			// 'Z', checked above
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	_, err := time.Parse(timestampLayout, s)
	return err == nil
}

// count reads a required non-negative integer.
func (o object) count(name string) (int, error) {
	v, ok := o.m[name]
	if !ok {
		return 0, invalid(o.field(name), "required")
	}
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	default:
		return 0, wrongType(o.field(name), "a non-negative integer", v)
	}
	if f < 0 || f != math.Trunc(f) || f > maxSafeInteger || f > math.MaxInt {
		return 0, invalid(o.field(name), "must be a non-negative integer")
	}
	return int(f), nil
}

// stringMap reads an object whose values are all strings.
func (o object) stringMap(name string, required bool) (map[string]string, error) {
	sub, ok, err := o.sub(name, required)
	if err != nil || !ok {
		return nil, err
	}
	out := make(map[string]string, len(sub.m))
	keys := make([]string, 0, len(sub.m))
	for k := range sub.m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // first bad key is reported, stably
	for _, k := range keys {
		s, isStr := sub.m[k].(string)
		if !isStr {
			return nil, wrongType(sub.field(k), "a string", sub.m[k])
		}
		out[k] = s
	}
	return out, nil
}

// Fields of an "error" object as Nango's types declare them: ErrorPayload
// for auth, SyncErrorPayload (which adds additional_properties) for sync.
var (
	authErrorFields = []string{"type", "description", "payload"}
	syncErrorFields = []string{"type", "description", "payload", "additional_properties"}
)

// errorPayload reads an "error" object: type and description are strings
// (either may be empty), every other field is kept verbatim in Extra.
func (o object) errorPayload(name string) (*ErrorPayload, error) {
	e, _, err := o.sub(name, true)
	if err != nil {
		return nil, err
	}
	var p ErrorPayload
	if p.Type, _, err = e.str("type", true, false); err != nil {
		return nil, err
	}
	if p.Description, _, err = e.str("description", true, false); err != nil {
		return nil, err
	}
	p.Extra = e.extras("type", "description")
	return &p, nil
}

// FromValue validates a parsed JSON value (as returned by canonjson.Parse:
// nil, bool, float64, string, []any, map[string]any) as a webhook body and
// returns it typed. It accepts what Nango's own types (@nangohq/types)
// accept: every known field must have Nango's name and type, required
// fields must be present and identifiers non-empty. A field it does not know
// is kept verbatim in the Extra map of the object holding it, so that it is
// delivered as sent (Nango adds fields without notice); [UnknownFields]
// lists them for a caller that wants to refuse them. An unknown "type" is
// an error. Every error is a *ValidationError.
//
// The returned webhook shares the verbatim parts with v.
func FromValue(v any) (Webhook, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("", fmt.Sprintf("webhook body must be a JSON object (got %s)", jsonKind(v)))
	}
	o := object{m: m}
	t, _, err := o.str("type", true, false)
	if err != nil {
		return nil, err
	}
	// Each branch returns a nil interface, never a typed nil pointer, on error.
	switch Type(t) {
	case TypeAuth:
		return typed(parseAuth(o))
	case TypeSync:
		return typed(parseSync(o))
	case TypeAsyncAction:
		return typed(parseAsyncAction(o))
	case TypeForward:
		return typed(parseForward(o))
	}
	return nil, invalid("type", fmt.Sprintf("must be one of %q", []Type{TypeAuth, TypeSync, TypeAsyncAction, TypeForward}))
}

func typed[W Webhook](w W, err error) (Webhook, error) {
	if err != nil {
		return nil, err
	}
	return w, nil
}

func parseAuth(o object) (*AuthWebhook, error) {
	w := &AuthWebhook{}
	var err error
	if w.From, err = o.from(); err != nil {
		return nil, err
	}
	if w.ConnectionID, err = o.id("connectionId"); err != nil {
		return nil, err
	}
	if w.ProviderConfigKey, err = o.id("providerConfigKey"); err != nil {
		return nil, err
	}
	if w.AuthMode, err = o.id("authMode"); err != nil {
		return nil, err
	}
	if w.Provider, err = o.id("provider"); err != nil {
		return nil, err
	}
	if w.Environment, err = o.id("environment"); err != nil {
		return nil, err
	}
	// Any non-empty string: Nango's own type has "unknown" besides the four
	// it sends, and Gate skips every operation it has no rule for.
	if w.Operation, err = o.id("operation"); err != nil {
		return nil, err
	}
	if w.Success, err = o.boolean("success"); err != nil {
		return nil, err
	}
	if w.Success {
		if err := o.forbid("when success is true", "error"); err != nil {
			return nil, err
		}
	} else if w.Error, err = o.errorPayload("error"); err != nil {
		return nil, err
	}
	if w.Tags, err = o.stringMap("tags", false); err != nil {
		return nil, err
	}
	eu, ok, err := o.sub("endUser", false)
	if err != nil {
		return nil, err
	}
	if ok {
		if w.EndUser, err = parseEndUser(eu); err != nil {
			return nil, err
		}
	}
	w.Extra = o.extras("type", "from", "connectionId", "providerConfigKey", "authMode",
		"provider", "environment", "operation", "success", "error", "tags", "endUser")
	return w, nil
}

func parseEndUser(o object) (*EndUser, error) {
	u := &EndUser{}
	var err error
	if u.EndUserID, err = o.id("endUserId"); err != nil {
		return nil, err
	}
	// endUserEmail is string | null | undefined in Nango's type.
	switch v, ok := o.m["endUserEmail"]; {
	case !ok:
		u.emailAbsent = true
	case v == nil:
	default:
		s, isStr := v.(string)
		if !isStr {
			return nil, wrongType(o.field("endUserEmail"), "a string or null", v)
		}
		u.EndUserEmail = &s
	}
	if s, ok, err := o.str("organizationId", false, false); err != nil {
		return nil, err
	} else if ok {
		u.OrganizationID = &s
	}
	if u.Tags, err = o.stringMap("tags", true); err != nil {
		return nil, err
	}
	u.Extra = o.extras("endUserId", "endUserEmail", "organizationId", "tags")
	return u, nil
}

// The fields of a sync webhook that succeeded and of one that failed, as
// Nango's types declare them; package variables, so that reading a
// webhook's extras does not build the lists anew.
var (
	syncSuccessFields = []string{"type", "from", "connectionId", "providerConfigKey", "syncName",
		"syncVariant", "model", "syncType", "checkpoints", "success", "responseResults", "modifiedAfter", "queryTimeStamp"}
	syncFailureFields = []string{"type", "from", "connectionId", "providerConfigKey", "syncName",
		"syncVariant", "model", "syncType", "checkpoints", "success", "error", "startedAt", "failedAt"}
)

func parseSync(o object) (*SyncWebhook, error) {
	w := &SyncWebhook{}
	var err error
	if w.From, err = o.from(); err != nil {
		return nil, err
	}
	if w.ConnectionID, err = o.id("connectionId"); err != nil {
		return nil, err
	}
	if w.ProviderConfigKey, err = o.id("providerConfigKey"); err != nil {
		return nil, err
	}
	if w.SyncName, err = o.id("syncName"); err != nil {
		return nil, err
	}
	variant, ok, err := o.str("syncVariant", false, true)
	if err != nil {
		return nil, err
	}
	w.SyncVariant = DefaultSyncVariant
	if ok {
		w.SyncVariant = variant
	}
	// model may be empty: a sync that fails before it knows its models
	// (aborted, cancelled) is reported with "model":"".
	if w.Model, _, err = o.str("model", true, false); err != nil {
		return nil, err
	}
	if w.SyncType, err = o.enum("syncType", SyncTypeInitial, SyncTypeIncremental, SyncTypeWebhook); err != nil {
		return nil, err
	}
	// checkpoints may be absent or null; Nango leaves a null range out of
	// the body it sends, and so does Canonical.
	if v, ok := o.m["checkpoints"]; ok && v != nil {
		cp, _, err := o.sub("checkpoints", false)
		if err != nil {
			return nil, wrongType(o.field("checkpoints"), "an object or null", v)
		}
		if w.Checkpoints, err = parseCheckpoints(cp); err != nil {
			return nil, err
		}
	}
	if w.Success, err = o.boolean("success"); err != nil {
		return nil, err
	}
	if w.Success {
		if err := o.forbid("when success is true", "error", "startedAt", "failedAt"); err != nil {
			return nil, err
		}
		rr, _, err := o.sub("responseResults", true)
		if err != nil {
			return nil, err
		}
		w.ResponseResults = &ResponseResults{}
		if w.ResponseResults.Added, err = rr.count("added"); err != nil {
			return nil, err
		}
		if w.ResponseResults.Updated, err = rr.count("updated"); err != nil {
			return nil, err
		}
		if w.ResponseResults.Deleted, err = rr.count("deleted"); err != nil {
			return nil, err
		}
		w.ResponseResults.Extra = rr.extras("added", "updated", "deleted")
		if w.ModifiedAfter, err = o.timestamp("modifiedAfter"); err != nil {
			return nil, err
		}
		switch v, ok := o.m["queryTimeStamp"]; {
		case !ok:
		case v == nil:
			w.nulls |= nullQueryTimeStamp
		default:
			s, err := o.timestamp("queryTimeStamp")
			if err != nil {
				if _, isStr := v.(string); !isStr {
					err = wrongType(o.field("queryTimeStamp"), "a string or null", v)
				}
				return nil, err
			}
			w.QueryTimeStamp = &s
		}
		w.Extra = o.extras(syncSuccessFields...)
		return w, nil
	}
	if err := o.forbid("when success is false", "responseResults", "modifiedAfter", "queryTimeStamp"); err != nil {
		return nil, err
	}
	if w.Error, err = o.errorPayload("error"); err != nil {
		return nil, err
	}
	if w.StartedAt, err = o.timestamp("startedAt"); err != nil {
		return nil, err
	}
	if w.FailedAt, err = o.timestamp("failedAt"); err != nil {
		return nil, err
	}
	w.Extra = o.extras(syncFailureFields...)
	return w, nil
}

func parseCheckpoints(o object) (*Checkpoints, error) {
	c := &Checkpoints{}
	for _, side := range []struct {
		name string
		dst  *map[string]any
		null nullSet
	}{
		{"from", &c.From, nullCheckpointFrom},
		{"to", &c.To, nullCheckpointTo},
	} {
		v, ok := o.m[side.name]
		switch {
		case !ok:
		case v == nil:
			c.nulls |= side.null
		default:
			m, isObj := v.(map[string]any)
			if !isObj {
				return nil, wrongType(o.field(side.name), "an object or null", v)
			}
			if m == nil {
				m = map[string]any{}
			}
			*side.dst = m
		}
	}
	c.Extra = o.extras("from", "to")
	return c, nil
}

func parseAsyncAction(o object) (*AsyncActionWebhook, error) {
	w := &AsyncActionWebhook{}
	var err error
	if w.From, err = o.from(); err != nil {
		return nil, err
	}
	if w.ConnectionID, err = o.id("connectionId"); err != nil {
		return nil, err
	}
	if w.ProviderConfigKey, err = o.id("providerConfigKey"); err != nil {
		return nil, err
	}
	p, _, err := o.sub("payload", true)
	if err != nil {
		return nil, err
	}
	if w.Payload.ID, err = p.id("id"); err != nil {
		return nil, err
	}
	if w.Payload.StatusURL, err = p.id("statusUrl"); err != nil {
		return nil, err
	}
	w.Payload.Extra = p.extras("id", "statusUrl")
	w.Extra = o.extras("type", "from", "connectionId", "providerConfigKey", "payload")
	return w, nil
}

func parseForward(o object) (*ForwardWebhook, error) {
	w := &ForwardWebhook{}
	var err error
	if w.From, err = o.from(); err != nil {
		return nil, err
	}
	// connectionId is optional in Nango's type: a provider webhook that
	// matched no connection has none.
	if s, ok, err := o.str("connectionId", false, true); err != nil {
		return nil, err
	} else if ok {
		w.ConnectionID = s
	}
	if w.ProviderConfigKey, err = o.id("providerConfigKey"); err != nil {
		return nil, err
	}
	payload, ok := o.m["payload"]
	if !ok {
		return nil, invalid("payload", "required")
	}
	w.Payload = payload
	w.Extra = o.extras("type", "from", "connectionId", "providerConfigKey", "payload")
	return w, nil
}

// UnknownFields lists, as dotted paths in sorted order, the fields of w that
// Nango's types do not declare (kept in the Extra maps), e.g.
// "syncMetadata" or "endUser.displayName". Fields inside the parts kept
// verbatim (a forward payload, checkpoint contents, an error's payload) are
// free-form and never listed.
func UnknownFields(w Webhook) []string {
	var out []string
	add := func(prefix string, m map[string]any) {
		for k := range m {
			out = append(out, prefix+k)
		}
	}
	switch w := w.(type) {
	case *AuthWebhook:
		add("", w.Extra)
		if w.Error != nil {
			add("error.", w.Error.unknown(authErrorFields))
		}
		if w.EndUser != nil {
			add("endUser.", w.EndUser.Extra)
		}
	case *SyncWebhook:
		add("", w.Extra)
		if w.Checkpoints != nil {
			add("checkpoints.", w.Checkpoints.Extra)
		}
		if w.ResponseResults != nil {
			add("responseResults.", w.ResponseResults.Extra)
		}
		if w.Error != nil {
			add("error.", w.Error.unknown(syncErrorFields))
		}
	case *AsyncActionWebhook:
		add("", w.Extra)
		add("payload.", w.Payload.Extra)
	case *ForwardWebhook:
		add("", w.Extra)
	}
	slices.Sort(out)
	return out
}

// unknown returns the fields of e.Extra that are not among known.
func (e *ErrorPayload) unknown(known []string) map[string]any { return without(e.Extra, known) }
