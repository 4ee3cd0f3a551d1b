package nango

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heraldhq/herald/canonjson"
)

// Valid bodies of every type, in canonical form.
const (
	authCreation = `{"authMode":"OAUTH2","connectionId":"c1","endUser":{"endUserEmail":"a@b.co","endUserId":"u1","organizationId":"org1","tags":{}},"environment":"dev","from":"nango","operation":"creation","provider":"google-calendar","providerConfigKey":"google-calendar","success":true,"tags":{"end_user_email":"a@b.co","end_user_id":"u1"},"type":"auth"}`
	authRefresh  = `{"authMode":"OAUTH2","connectionId":"c1","environment":"prod","error":{"description":"The external API returned an error when trying to refresh the access token.","type":"refresh_token_external_error"},"from":"nango","operation":"refresh","provider":"google","providerConfigKey":"google","success":false,"tags":{"end_user_id":"u1"},"type":"auth"}`
	syncSuccess  = `{"checkpoints":{"from":{"isoDate":"2026-03-25T17:12:16.111Z"},"to":{"isoDate":"2026-03-25T19:42:55.597Z"}},"connectionId":"unauth","from":"nango","model":"TaxItem","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"unauthenticated","queryTimeStamp":"2026-03-25T19:42:49.717Z","responseResults":{"added":1,"deleted":1,"updated":5},"success":true,"syncName":"syncA","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`
	syncFailure  = `{"connectionId":"c1","error":{"description":"boom <&>","type":"script_error"},"failedAt":"2026-03-25T19:42:49.717Z","from":"nango","model":"Issue,Comment","providerConfigKey":"github","startedAt":"2026-03-25T19:00:00.000Z","success":false,"syncName":"issues","syncType":"INITIAL","syncVariant":"base","type":"sync"}`
	asyncAction  = `{"connectionId":"c1","from":"nango","payload":{"id":"00000000-0000-0000-0000-000000000000","statusUrl":"/action/00000000-0000-0000-0000-000000000000"},"providerConfigKey":"p","type":"async_action"}`
	forward      = `{"connectionId":"c1","from":"hubspot","payload":[{"objectId":1,"occurredAt":1700000000000,"portalId":42,"subscriptionType":"contact.creation"}],"providerConfigKey":"hubspot","type":"forward"}`
)

// edit parses base, applies f to the top-level object and re-encodes it.
func edit(t *testing.T, base string, f func(m map[string]any)) []byte {
	t.Helper()
	v, err := canonjson.Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	f(v.(map[string]any))
	out, err := canonjson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestParseWebhookInvalid(t *testing.T) {
	set := func(k string, v any) func(map[string]any) {
		return func(m map[string]any) { m[k] = v }
	}
	del := func(k string) func(map[string]any) {
		return func(m map[string]any) { delete(m, k) }
	}
	setIn := func(path []string, k string, v any) func(map[string]any) {
		return func(m map[string]any) { obj(m, path...)[k] = v }
	}
	delIn := func(path []string, k string) func(map[string]any) {
		return func(m map[string]any) { delete(obj(m, path...), k) }
	}
	eu := []string{"endUser"}
	rr := []string{"responseResults"}
	e := []string{"error"}
	pl := []string{"payload"}
	cp := []string{"checkpoints"}

	tests := []struct {
		name  string
		raw   string // used when base is ""
		base  string
		edit  func(map[string]any)
		field string
	}{
		{name: "array body", raw: `[]`, field: ""},
		{name: "string body", raw: `"auth"`, field: ""},
		{name: "null body", raw: `null`, field: ""},
		{name: "number body", raw: `42`, field: ""},
		{name: "empty object", raw: `{}`, field: "type"},
		{name: "type number", raw: `{"type":5}`, field: "type"},
		{name: "type null", raw: `{"type":null}`, field: "type"},
		{name: "type unknown", raw: `{"type":"webhook"}`, field: "type"},
		{name: "type wrong case", base: asyncAction, edit: set("type", "AUTH"), field: "type"},

		{name: "auth connectionId missing", base: authCreation, edit: del("connectionId"), field: "connectionId"},
		{name: "auth connectionId empty", base: authCreation, edit: set("connectionId", ""), field: "connectionId"},
		{name: "auth connectionId number", base: authCreation, edit: set("connectionId", 42.0), field: "connectionId"},
		{name: "auth providerConfigKey null", base: authCreation, edit: set("providerConfigKey", nil), field: "providerConfigKey"},
		{name: "auth authMode missing", base: authCreation, edit: del("authMode"), field: "authMode"},
		{name: "auth provider empty", base: authCreation, edit: set("provider", ""), field: "provider"},
		{name: "auth environment bool", base: authCreation, edit: set("environment", true), field: "environment"},
		{name: "auth operation missing", base: authCreation, edit: del("operation"), field: "operation"},
		{name: "auth success string", base: authCreation, edit: set("success", "true"), field: "success"},
		{name: "auth success missing", base: authCreation, edit: del("success"), field: "success"},
		{name: "auth success with error", base: authCreation, edit: set("error", map[string]any{"type": "x", "description": "y"}), field: "error"},
		{name: "auth failure without error", base: authRefresh, edit: del("error"), field: "error"},
		{name: "auth error not object", base: authRefresh, edit: set("error", "boom"), field: "error"},
		{name: "auth error null", base: authRefresh, edit: set("error", nil), field: "error"},
		{name: "auth error type missing", base: authRefresh, edit: delIn(e, "type"), field: "error.type"},
		{name: "auth error description number", base: authRefresh, edit: setIn(e, "description", 1.0), field: "error.description"},
		{name: "auth from empty", base: authCreation, edit: set("from", ""), field: "from"},
		{name: "auth from null", base: authCreation, edit: set("from", nil), field: "from"},
		{name: "auth tags non-string value", base: authCreation, edit: setIn([]string{"tags"}, "n", 1.0), field: "tags.n"},
		{name: "auth tags array", base: authCreation, edit: set("tags", []any{"a"}), field: "tags"},
		{name: "auth tags null", base: authCreation, edit: set("tags", nil), field: "tags"},
		{name: "endUser not object", base: authCreation, edit: set("endUser", "u1"), field: "endUser"},
		{name: "endUser endUserId empty", base: authCreation, edit: setIn(eu, "endUserId", ""), field: "endUser.endUserId"},
		{name: "endUser endUserEmail number", base: authCreation, edit: setIn(eu, "endUserEmail", 5.0), field: "endUser.endUserEmail"},
		{name: "endUser organizationId null", base: authCreation, edit: setIn(eu, "organizationId", nil), field: "endUser.organizationId"},
		{name: "endUser tags missing", base: authCreation, edit: delIn(eu, "tags"), field: "endUser.tags"},
		{name: "endUser tags null value", base: authCreation, edit: setIn([]string{"endUser", "tags"}, "k", nil), field: "endUser.tags.k"},

		{name: "sync syncName number", base: syncSuccess, edit: set("syncName", 1.0), field: "syncName"},
		{name: "sync model missing", base: syncSuccess, edit: del("model"), field: "model"},
		{name: "sync model null", base: syncFailure, edit: set("model", nil), field: "model"},
		{name: "sync checkpoints array", base: syncSuccess, edit: set("checkpoints", []any{}), field: "checkpoints"},
		{name: "forward connectionId empty", base: forward, edit: set("connectionId", ""), field: "connectionId"},
		{name: "auth operation number", base: authCreation, edit: set("operation", 1.0), field: "operation"},
		{name: "sync syncVariant empty", base: syncSuccess, edit: set("syncVariant", ""), field: "syncVariant"},
		{name: "sync syncVariant null", base: syncSuccess, edit: set("syncVariant", nil), field: "syncVariant"},
		{name: "sync syncType unknown", base: syncSuccess, edit: set("syncType", "FULL"), field: "syncType"},
		{name: "sync syncType lowercase", base: syncSuccess, edit: set("syncType", "initial"), field: "syncType"},
		{name: "sync success null", base: syncSuccess, edit: set("success", nil), field: "success"},
		{name: "sync responseResults missing", base: syncSuccess, edit: del("responseResults"), field: "responseResults"},
		{name: "sync responseResults array", base: syncSuccess, edit: set("responseResults", []any{}), field: "responseResults"},
		{name: "sync added negative", base: syncSuccess, edit: setIn(rr, "added", -1.0), field: "responseResults.added"},
		{name: "sync updated fraction", base: syncSuccess, edit: setIn(rr, "updated", 1.5), field: "responseResults.updated"},
		{name: "sync deleted string", base: syncSuccess, edit: setIn(rr, "deleted", "3"), field: "responseResults.deleted"},
		{name: "sync added huge", base: syncSuccess, edit: setIn(rr, "added", 1e300), field: "responseResults.added"},
		{name: "sync deleted missing", base: syncSuccess, edit: delIn(rr, "deleted"), field: "responseResults.deleted"},
		{name: "sync modifiedAfter missing", base: syncSuccess, edit: del("modifiedAfter"), field: "modifiedAfter"},
		{name: "sync modifiedAfter no millis", base: syncSuccess, edit: set("modifiedAfter", "2026-03-25T19:42:49Z"), field: "modifiedAfter"},
		{name: "sync modifiedAfter offset", base: syncSuccess, edit: set("modifiedAfter", "2026-03-25T19:42:49.717+00:00"), field: "modifiedAfter"},
		{name: "sync modifiedAfter lowercase z", base: syncSuccess, edit: set("modifiedAfter", "2026-03-25T19:42:49.717z"), field: "modifiedAfter"},
		{name: "sync modifiedAfter Feb 30", base: syncSuccess, edit: set("modifiedAfter", "2026-02-30T00:00:00.000Z"), field: "modifiedAfter"},
		{name: "sync modifiedAfter hour 24", base: syncSuccess, edit: set("modifiedAfter", "2026-03-25T24:00:00.000Z"), field: "modifiedAfter"},
		{name: "sync modifiedAfter epoch number", base: syncSuccess, edit: set("modifiedAfter", 1774467769717.0), field: "modifiedAfter"},
		{name: "sync queryTimeStamp number", base: syncSuccess, edit: set("queryTimeStamp", 123.0), field: "queryTimeStamp"},
		{name: "sync queryTimeStamp words", base: syncSuccess, edit: set("queryTimeStamp", "yesterday"), field: "queryTimeStamp"},
		{name: "sync success with error", base: syncSuccess, edit: set("error", map[string]any{"type": "x", "description": ""}), field: "error"},
		{name: "sync success with startedAt", base: syncSuccess, edit: set("startedAt", "2026-03-25T19:00:00.000Z"), field: "startedAt"},
		{name: "sync failure with responseResults", base: syncFailure, edit: set("responseResults", map[string]any{"added": 0.0, "updated": 0.0, "deleted": 0.0}), field: "responseResults"},
		{name: "sync failure with queryTimeStamp null", base: syncFailure, edit: set("queryTimeStamp", nil), field: "queryTimeStamp"},
		{name: "sync failure without error", base: syncFailure, edit: del("error"), field: "error"},
		{name: "sync failure error description missing", base: syncFailure, edit: delIn(e, "description"), field: "error.description"},
		{name: "sync failure startedAt missing", base: syncFailure, edit: del("startedAt"), field: "startedAt"},
		{name: "sync failure failedAt month 13", base: syncFailure, edit: set("failedAt", "2026-13-01T00:00:00.000Z"), field: "failedAt"},
		{name: "sync checkpoints not object", base: syncSuccess, edit: set("checkpoints", "cp"), field: "checkpoints"},
		{name: "sync checkpoints from string", base: syncSuccess, edit: setIn(cp, "from", "2026"), field: "checkpoints.from"},
		{name: "sync checkpoints to array", base: syncSuccess, edit: setIn(cp, "to", []any{}), field: "checkpoints.to"},

		{name: "async payload missing", base: asyncAction, edit: del("payload"), field: "payload"},
		{name: "async payload null", base: asyncAction, edit: set("payload", nil), field: "payload"},
		{name: "async payload id empty", base: asyncAction, edit: setIn(pl, "id", ""), field: "payload.id"},
		{name: "async payload statusUrl missing", base: asyncAction, edit: delIn(pl, "statusUrl"), field: "payload.statusUrl"},
		{name: "async providerConfigKey missing", base: asyncAction, edit: del("providerConfigKey"), field: "providerConfigKey"},

		{name: "forward payload missing", base: forward, edit: del("payload"), field: "payload"},
		{name: "forward from number", base: forward, edit: set("from", 1.0), field: "from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.raw)
			if tt.base != "" {
				body = edit(t, tt.base, tt.edit)
			}
			w, err := ParseWebhook(body)
			if err == nil {
				t.Fatalf("ParseWebhook(%s) = %#v, want error on %q", body, w, tt.field)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
			}
			if ve.Field != tt.field {
				t.Errorf("ParseWebhook(%s): Field = %q (%v), want %q", body, ve.Field, err, tt.field)
			}
			if ve.Msg == "" {
				t.Error("empty Msg")
			}
		})
	}
	if len(tests) < 40 {
		t.Errorf("only %d cases", len(tests))
	}
}

func TestValidationErrorMessage(t *testing.T) {
	_, err := ParseWebhook(edit(t, authCreation, func(m map[string]any) {
		obj(m, "endUser")["endUserEmail"] = 5.0
	}))
	if got, want := err.Error(), "endUser.endUserEmail: must be a string or null (got number)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = ParseWebhook([]byte(`[1]`))
	if got, want := err.Error(), "webhook body must be a JSON object (got array)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = ParseWebhook(edit(t, syncSuccess, func(m map[string]any) { delete(m, "modifiedAfter") }))
	if got, want := err.Error(), "modifiedAfter: required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = ParseWebhook(edit(t, syncFailure, func(m map[string]any) { m["modifiedAfter"] = "x" }))
	if got, want := err.Error(), "modifiedAfter: not allowed when success is false"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseWebhookSyntaxError(t *testing.T) {
	for _, body := range []string{``, `{`, `{"type":"auth",}`, `nul`} {
		_, err := ParseWebhook([]byte(body))
		var se *canonjson.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseWebhook(%q) error = %v (%T), want *canonjson.SyntaxError", body, err, err)
		}
	}
}

// TestCanonicalValid parses valid bodies written in non-canonical form and
// checks the exact canonical bytes, including defaults and kept nulls.
func TestCanonicalValid(t *testing.T) {
	tests := []struct {
		name, in, want string
		typ            Type
	}{
		{name: "auth creation", in: authCreation, want: authCreation, typ: TypeAuth},
		{name: "auth refresh error", in: authRefresh, want: authRefresh, typ: TypeAuth},
		{
			name: "auth minimal, from defaulted",
			in:   `{"type":"auth","connectionId":"c","providerConfigKey":"p","authMode":"API_KEY","provider":"x","environment":"dev","operation":"override","success":true}`,
			want: `{"authMode":"API_KEY","connectionId":"c","environment":"dev","from":"nango","operation":"override","provider":"x","providerConfigKey":"p","success":true,"type":"auth"}`,
			typ:  TypeAuth,
		},
		{
			name: "auth error payload kept verbatim, null email kept",
			in:   `{"type":"auth","success":false,"error":{"payload":{"b":[1.0,null],"a":"<&>"},"type":"t","description":""},"connectionId":"c","providerConfigKey":"p","authMode":"OAUTH2","provider":"x","environment":"dev","operation":"creation","endUser":{"tags":{"z":"1","a":"2"},"endUserEmail":null,"endUserId":"u"}}`,
			want: `{"authMode":"OAUTH2","connectionId":"c","endUser":{"endUserEmail":null,"endUserId":"u","tags":{"a":"2","z":"1"}},"environment":"dev","error":{"description":"","payload":{"a":"<&>","b":[1,null]},"type":"t"},"from":"nango","operation":"creation","provider":"x","providerConfigKey":"p","success":false,"type":"auth"}`,
			typ:  TypeAuth,
		},
		{
			name: "auth error payload null",
			in:   `{"type":"auth","success":false,"error":{"type":"t","description":"d","payload":null},"connectionId":"c","providerConfigKey":"p","authMode":"OAUTH2","provider":"x","environment":"dev","operation":"deletion"}`,
			want: `{"authMode":"OAUTH2","connectionId":"c","environment":"dev","error":{"description":"d","payload":null,"type":"t"},"from":"nango","operation":"deletion","provider":"x","providerConfigKey":"p","success":false,"type":"auth"}`,
			typ:  TypeAuth,
		},
		{name: "sync success", in: syncSuccess, want: syncSuccess, typ: TypeSync},
		{name: "sync failure", in: syncFailure, want: syncFailure, typ: TypeSync},
		{
			name: "sync defaults, queryTimeStamp null and checkpoint null kept, numbers JS-formatted",
			in:   `{"type":"sync","connectionId":"c","providerConfigKey":"p","syncName":"s","model":"M","syncType":"WEBHOOK","success":true,"responseResults":{"added":1e2,"updated":0.0,"deleted":-0},"modifiedAfter":"2024-02-29T23:59:59.999Z","queryTimeStamp":null,"checkpoints":{"from":null,"to":{"n":1.50}}}`,
			want: `{"checkpoints":{"from":null,"to":{"n":1.5}},"connectionId":"c","from":"nango","model":"M","modifiedAfter":"2024-02-29T23:59:59.999Z","providerConfigKey":"p","queryTimeStamp":null,"responseResults":{"added":100,"deleted":0,"updated":0},"success":true,"syncName":"s","syncType":"WEBHOOK","syncVariant":"base","type":"sync"}`,
			typ:  TypeSync,
		},
		{
			name: "sync absent optional fields stay absent, empty checkpoints kept",
			in:   `{"type":"sync","from":"nango","connectionId":"c","providerConfigKey":"p","syncName":"s","syncVariant":"v2","model":"M","syncType":"INITIAL","success":true,"responseResults":{"added":0,"updated":0,"deleted":0},"modifiedAfter":"2024-01-01T00:00:00.000Z","checkpoints":{}}`,
			want: `{"checkpoints":{},"connectionId":"c","from":"nango","model":"M","modifiedAfter":"2024-01-01T00:00:00.000Z","providerConfigKey":"p","responseResults":{"added":0,"deleted":0,"updated":0},"success":true,"syncName":"s","syncType":"INITIAL","syncVariant":"v2","type":"sync"}`,
			typ:  TypeSync,
		},
		{
			name: "sync error extras kept verbatim",
			in:   `{"type":"sync","success":false,"error":{"type":"script_http_error","description":"x","payload":{"status":500},"upstream_response":{"b":2,"a":[true]},"code":12.50},"startedAt":"2026-03-25T19:00:00.000Z","failedAt":"2026-03-25T19:00:01.000Z","connectionId":"c","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INCREMENTAL"}`,
			want: `{"connectionId":"c","error":{"code":12.5,"description":"x","payload":{"status":500},"type":"script_http_error","upstream_response":{"a":[true],"b":2}},"failedAt":"2026-03-25T19:00:01.000Z","from":"nango","model":"M","providerConfigKey":"p","startedAt":"2026-03-25T19:00:00.000Z","success":false,"syncName":"s","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}`,
			typ:  TypeSync,
		},
		{name: "async action", in: asyncAction, want: asyncAction, typ: TypeAsyncAction},
		{
			name: "async action from defaulted",
			in:   `{"payload":{"statusUrl":"/action/1","id":"1"},"providerConfigKey":"p","connectionId":"c","type":"async_action"}`,
			want: `{"connectionId":"c","from":"nango","payload":{"id":"1","statusUrl":"/action/1"},"providerConfigKey":"p","type":"async_action"}`,
			typ:  TypeAsyncAction,
		},
		{name: "forward", in: forward, want: forward, typ: TypeForward},
		{
			name: "forward null payload, from defaulted",
			in:   `{"type":"forward","payload":null,"providerConfigKey":"p","connectionId":"c"}`,
			want: `{"connectionId":"c","from":"nango","payload":null,"providerConfigKey":"p","type":"forward"}`,
			typ:  TypeForward,
		},
		{
			name: "forward payload with anything, even unknown-looking fields",
			in:   `{"type":"forward","from":"slack","payload":{"type":"event_callback","team_id":"T1","10":"x","2":"y","u":"\u2028"},"providerConfigKey":"slack","connectionId":"c"}`,
			want: "{\"connectionId\":\"c\",\"from\":\"slack\",\"payload\":{\"2\":\"y\",\"10\":\"x\",\"team_id\":\"T1\",\"type\":\"event_callback\",\"u\":\"\u2028\"},\"providerConfigKey\":\"slack\",\"type\":\"forward\"}",
			typ:  TypeForward,
		},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := ParseWebhook([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if w.WebhookType() != tt.typ {
				t.Errorf("WebhookType = %q, want %q", w.WebhookType(), tt.typ)
			}
			got, err := w.Canonical()
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("Canonical:\n got %s\nwant %s", got, tt.want)
			}
			// The same body with its keys in other orders, at every
			// level, and with whitespace, gives the same bytes.
			v, _ := canonjson.Parse([]byte(tt.in))
			for range 5 {
				shuffled := shuffledJSON(v, rng)
				w2, err := ParseWebhook([]byte(shuffled))
				if err != nil {
					t.Fatalf("ParseWebhook(%s): %v", shuffled, err)
				}
				got2, err := w2.Canonical()
				if err != nil {
					t.Fatal(err)
				}
				if string(got2) != tt.want {
					t.Fatalf("shuffled %s\n gave %s\n want %s", shuffled, got2, tt.want)
				}
			}
			// Canonical bytes are a fixed point.
			w3, err := ParseWebhook(got)
			if err != nil {
				t.Fatal(err)
			}
			got3, _ := w3.Canonical()
			if string(got3) != string(got) {
				t.Errorf("not a fixed point: %s", got3)
			}
		})
	}
}

// shuffledJSON writes v with object keys in random order and some spaces.
func shuffledJSON(v any, rng *rand.Rand) string {
	var b strings.Builder
	var write func(v any)
	write = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			b.WriteString("{ ")
			for i, k := range keys {
				if i > 0 {
					b.WriteString(" ,\n")
				}
				kb, _ := json.Marshal(k)
				b.Write(kb)
				b.WriteString(" : ")
				write(v[k])
			}
			b.WriteString(" }")
		case []any:
			b.WriteString("[")
			for i, e := range v {
				if i > 0 {
					b.WriteString(", ")
				}
				write(e)
			}
			b.WriteString("]")
		default:
			out, _ := json.Marshal(v)
			b.Write(out)
		}
	}
	write(v)
	return b.String()
}

func TestTypedFields(t *testing.T) {
	w, err := ParseWebhook([]byte(syncSuccess))
	if err != nil {
		t.Fatal(err)
	}
	s := w.(*SyncWebhook)
	if s.From != "nango" || s.SyncVariant != "base" || s.Model != "TaxItem" || s.SyncType != SyncTypeIncremental || !s.Success {
		t.Errorf("fields: %+v", s)
	}
	if r := s.ResponseResults; r.Added != 1 || r.Updated != 5 || r.Deleted != 1 || r.Extra != nil {
		t.Errorf("ResponseResults = %+v", *s.ResponseResults)
	}
	if s.QueryTimeStamp == nil || *s.QueryTimeStamp != "2026-03-25T19:42:49.717Z" {
		t.Errorf("QueryTimeStamp = %v", s.QueryTimeStamp)
	}
	if s.Checkpoints.From["isoDate"] != "2026-03-25T17:12:16.111Z" {
		t.Errorf("Checkpoints = %+v", s.Checkpoints)
	}
	if c, p := w.ConnectionRef(); c != "unauth" || p != "unauthenticated" {
		t.Errorf("ConnectionRef = %q, %q", c, p)
	}

	w, err = ParseWebhook([]byte(authCreation))
	if err != nil {
		t.Fatal(err)
	}
	a := w.(*AuthWebhook)
	if a.Operation != OperationCreation || a.EndUser == nil || a.EndUser.EndUserID != "u1" ||
		*a.EndUser.EndUserEmail != "a@b.co" || *a.EndUser.OrganizationID != "org1" ||
		a.EndUser.Tags == nil || len(a.EndUser.Tags) != 0 || a.Tags["end_user_id"] != "u1" {
		t.Errorf("auth fields: %+v / %+v", a, a.EndUser)
	}

	w, err = ParseWebhook([]byte(syncFailure))
	if err != nil {
		t.Fatal(err)
	}
	f := w.(*SyncWebhook)
	if f.Error.Type != "script_error" || f.Error.Extra != nil || f.StartedAt != "2026-03-25T19:00:00.000Z" {
		t.Errorf("sync failure fields: %+v", f)
	}
}

// TestEncodingJSONCompatible: a receiver may decode a verified body with
// encoding/json instead of ParseWebhook.
func TestEncodingJSONCompatible(t *testing.T) {
	var s SyncWebhook
	if err := json.Unmarshal([]byte(syncSuccess), &s); err != nil {
		t.Fatal(err)
	}
	if s.SyncName != "syncA" || s.ResponseResults.Updated != 5 || s.ModifiedAfter != "2026-03-25T19:42:49.717Z" || s.Checkpoints.To["isoDate"] == nil {
		t.Errorf("%+v", s)
	}
	var a AuthWebhook
	if err := json.Unmarshal([]byte(authRefresh), &a); err != nil {
		t.Fatal(err)
	}
	if a.Error.Type != "refresh_token_external_error" || a.Operation != OperationRefresh || a.Success {
		t.Errorf("%+v", a)
	}
	var aa AsyncActionWebhook
	if err := json.Unmarshal([]byte(asyncAction), &aa); err != nil {
		t.Fatal(err)
	}
	if aa.Payload.StatusURL != "/action/00000000-0000-0000-0000-000000000000" {
		t.Errorf("%+v", aa)
	}
}

// TestCanonicalBuiltInGo covers webhooks constructed as Go values rather
// than parsed: defaults are applied and invalid values never become bytes.
func TestCanonicalBuiltInGo(t *testing.T) {
	w := &SyncWebhook{
		ConnectionID: "c", ProviderConfigKey: "p", SyncName: "s", Model: "M",
		SyncType: SyncTypeInitial, Success: true,
		ResponseResults: &ResponseResults{Added: 3},
		ModifiedAfter:   "2026-01-01T00:00:00.000Z",
	}
	got, err := w.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"connectionId":"c","from":"nango","model":"M","modifiedAfter":"2026-01-01T00:00:00.000Z","providerConfigKey":"p","responseResults":{"added":3,"deleted":0,"updated":0},"success":true,"syncName":"s","syncType":"INITIAL","syncVariant":"base","type":"sync"}`
	if string(got) != want {
		t.Errorf("Canonical:\n got %s\nwant %s", got, want)
	}

	f := &ForwardWebhook{From: "hubspot", ConnectionID: "c", ProviderConfigKey: "hs", Payload: []any{map[string]any{"b": 1, "a": "x"}}}
	got, err = f.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"connectionId":"c","from":"hubspot","payload":[{"a":"x","b":1}],"providerConfigKey":"hs","type":"forward"}`; string(got) != want {
		t.Errorf("Canonical:\n got %s\nwant %s", got, want)
	}

	invalidCases := []struct {
		name  string
		w     Webhook
		field string
	}{
		{"auth failure without error", &AuthWebhook{ConnectionID: "c", ProviderConfigKey: "p", AuthMode: "OAUTH2", Provider: "x", Environment: "e", Operation: OperationRefresh}, "error"},
		{"sync success without results", &SyncWebhook{ConnectionID: "c", ProviderConfigKey: "p", SyncName: "s", Model: "M", SyncType: SyncTypeInitial, Success: true, ModifiedAfter: "2026-01-01T00:00:00.000Z"}, "responseResults"},
		{"sync negative count", &SyncWebhook{ConnectionID: "c", ProviderConfigKey: "p", SyncName: "s", Model: "M", SyncType: SyncTypeInitial, Success: true, ResponseResults: &ResponseResults{Deleted: -1}, ModifiedAfter: "2026-01-01T00:00:00.000Z"}, "responseResults.deleted"},
		{"sync failure with success fields", &SyncWebhook{ConnectionID: "c", ProviderConfigKey: "p", SyncName: "s", Model: "M", SyncType: SyncTypeInitial, ModifiedAfter: "2026-01-01T00:00:00.000Z"}, "modifiedAfter"},
		{"async empty id", &AsyncActionWebhook{ConnectionID: "c", ProviderConfigKey: "p", Payload: AsyncActionResult{StatusURL: "/x"}}, "payload.id"},
		{"forward without provider config key", &ForwardWebhook{ConnectionID: "c"}, "providerConfigKey"},
		{"auth without operation", &AuthWebhook{ConnectionID: "c", ProviderConfigKey: "p", AuthMode: "OAUTH2", Provider: "x", Environment: "e", Success: true}, "operation"},
	}
	for _, tt := range invalidCases {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.w.Canonical()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Canonical = %s, %v; want *ValidationError", b, err)
			}
			if ve.Field != tt.field {
				t.Errorf("Field = %q (%v), want %q", ve.Field, err, tt.field)
			}
		})
	}

	// A payload canonjson cannot encode is an error, not a panic.
	if _, err := (&ForwardWebhook{ConnectionID: "c", ProviderConfigKey: "p", Payload: struct{}{}}).Canonical(); err == nil {
		t.Error("Canonical accepted a struct payload")
	}
}
