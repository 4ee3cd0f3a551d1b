package nango

import (
	"errors"
	"reflect"
	"testing"

	"github.com/heraldhq/herald/canonjson"
)

// For every body the strict parser accepts, Decode returns the same value.
func TestDecodeAgreesWithParseWebhook(t *testing.T) {
	bodies := map[string]string{
		"authCreation": authCreation, "authRefresh": authRefresh, "syncSuccess": syncSuccess,
		"syncFailure": syncFailure, "asyncAction": asyncAction, "forward": forward,
		"not canonical":  `{ "type" : "forward", "providerConfigKey": "p", "payload": null, "extra": [1] }`,
		"unknown fields": `{"type":"async_action","connectionId":"c","providerConfigKey":"p","payload":{"id":"1","statusUrl":"/a","new":true},"added":{"x":1}}`,
	}
	for _, v := range loadVectors[signatureVector](t, "signatures.json") {
		if v.Name != "unit_secret_payload" {
			bodies["vector "+v.Name] = v.Body
		}
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			want, err := ParseWebhook([]byte(body))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			got, err := Decode([]byte(body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode = %#v\nParseWebhook = %#v", got, want)
			}
		})
	}
}

// Bodies of a known type that the strict parser refuses are still decoded
// into their type, as far as they go.
func TestDecodeLenient(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, w Webhook)
	}{
		{
			name: "sync type newer than this package",
			body: `{"type":"sync","connectionId":"c1","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"PARTIAL","success":true,"responseResults":{"added":3,"updated":1,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`,
			check: func(t *testing.T, w Webhook) {
				s := w.(*SyncWebhook)
				if s.SyncType != "PARTIAL" || s.ResponseResults.Added != 3 || s.ConnectionID != "c1" || s.SyncVariant != DefaultSyncVariant || s.From != DefaultFrom {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "sync success without responseResults, timestamp without milliseconds",
			body: `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INITIAL","success":true,"modifiedAfter":"2026-03-25T19:42:49Z"}`,
			check: func(t *testing.T, w Webhook) {
				s := w.(*SyncWebhook)
				if s.ResponseResults == nil || !reflect.DeepEqual(*s.ResponseResults, ResponseResults{}) {
					t.Errorf("ResponseResults = %+v, want zero and non-nil", s.ResponseResults)
				}
				if s.ModifiedAfter != "2026-03-25T19:42:49Z" || s.Error != nil {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "sync failure without error, fields of other JSON types",
			body: `{"type":"sync","connectionId":7,"providerConfigKey":"p","syncName":"s","model":null,"syncType":"INCREMENTAL","success":false,"startedAt":"x","checkpoints":{"from":null,"to":[1],"cursor":"abc"},"queryTimeStamp":5}`,
			check: func(t *testing.T, w Webhook) {
				s := w.(*SyncWebhook)
				if s.Error == nil || !reflect.DeepEqual(*s.Error, ErrorPayload{}) {
					t.Errorf("Error = %+v, want empty and non-nil", s.Error)
				}
				if s.ConnectionID != "" || s.Model != "" || s.StartedAt != "x" || s.QueryTimeStamp != nil || s.ResponseResults != nil {
					t.Errorf("got %+v", s)
				}
				if s.Checkpoints == nil || s.Checkpoints.From != nil || s.Checkpoints.To != nil || s.Checkpoints.Extra["cursor"] != "abc" {
					t.Errorf("Checkpoints = %+v", s.Checkpoints)
				}
			},
		},
		{
			name: "sync counts out of range",
			body: `{"type":"sync","success":true,"responseResults":{"added":1.9,"updated":-2,"deleted":1e300,"skipped":4}}`,
			check: func(t *testing.T, w Webhook) {
				r := w.(*SyncWebhook).ResponseResults
				if r.Added != 1 || r.Updated != -2 || r.Deleted != 0 || r.Extra["skipped"] != 4.0 {
					t.Errorf("ResponseResults = %+v", r)
				}
				if got := UnknownFields(w); !reflect.DeepEqual(got, []string{"responseResults.skipped"}) {
					t.Errorf("UnknownFields = %q", got)
				}
			},
		},
		{
			name: "auth with success as a string and a tag that is a number",
			body: `{"type":"auth","connectionId":"c1","providerConfigKey":"google","authMode":"OAUTH2","provider":"google","environment":"prod","operation":"reconnect","success":"yes","tags":{"a":"b","n":1},"endUser":{"endUserId":"u1","displayName":"Ada"},"newField":{"x":true}}`,
			check: func(t *testing.T, w Webhook) {
				a := w.(*AuthWebhook)
				if a.Success || a.Error == nil || a.Operation != "reconnect" {
					t.Errorf("got %+v", a)
				}
				if !reflect.DeepEqual(a.Tags, map[string]string{"a": "b"}) {
					t.Errorf("Tags = %v", a.Tags)
				}
				if a.EndUser == nil || a.EndUser.EndUserID != "u1" || a.EndUser.EndUserEmail != nil || a.EndUser.Tags != nil {
					t.Errorf("EndUser = %+v", a.EndUser)
				}
				if got := UnknownFields(w); !reflect.DeepEqual(got, []string{"endUser.displayName", "newField"}) {
					t.Errorf("UnknownFields = %q", got)
				}
			},
		},
		{
			name: "auth failure with an error that is not an object",
			body: `{"type":"auth","connectionId":"c1","success":false,"error":"boom"}`,
			check: func(t *testing.T, w Webhook) {
				if e := w.(*AuthWebhook).Error; e == nil || !reflect.DeepEqual(*e, ErrorPayload{}) {
					t.Errorf("Error = %+v", e)
				}
			},
		},
		{
			name: "async action without payload",
			body: `{"type":"async_action","connectionId":"c1","providerConfigKey":"p"}`,
			check: func(t *testing.T, w Webhook) {
				a := w.(*AsyncActionWebhook)
				if a.ConnectionID != "c1" || a.Payload.ID != "" || a.Payload.StatusURL != "" {
					t.Errorf("got %+v", a)
				}
			},
		},
		{
			name: "forward without providerConfigKey and payload, empty from",
			body: `{"type":"forward","from":"","connectionId":"c1"}`,
			check: func(t *testing.T, w Webhook) {
				f := w.(*ForwardWebhook)
				if f.From != DefaultFrom || f.ConnectionID != "c1" || f.ProviderConfigKey != "" || f.Payload != nil {
					t.Errorf("got %+v", f)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseWebhook([]byte(tt.body)); err == nil {
				t.Fatal("ParseWebhook accepts the body: the case does not test leniency")
			}
			w, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			tt.check(t, w)
		})
	}
}

func TestDecodeUnknownType(t *testing.T) {
	tests := []struct {
		name, body, typ, conn, key string
	}{
		{"herald operations event", `{"created_at":"2026-03-25T19:42:49.717Z","endpoint":{"id":"e1","state":"disabled"},"environment_id":"env-1","from":"herald","type":"endpoint.disabled"}`, "endpoint.disabled", "", ""},
		{"Nango type added later", `{"type":"connection_health","connectionId":"c1","providerConfigKey":"github","status":"degraded"}`, "connection_health", "c1", "github"},
		{"empty type", `{"type":"","connectionId":1}`, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			w, err := Decode(body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			u, ok := w.(*UnknownWebhook)
			if !ok {
				t.Fatalf("Decode = %T, want *UnknownWebhook", w)
			}
			if u.WebhookType() != Type(tt.typ) || string(u.Raw) != tt.body {
				t.Errorf("got %+v", u)
			}
			if c, k := u.ConnectionRef(); c != tt.conn || k != tt.key {
				t.Errorf("ConnectionRef = %q, %q", c, k)
			}
			body[0] = 'X'
			if u.Raw[0] != '{' {
				t.Error("Raw shares the caller's buffer")
			}
			var ve *ValidationError
			if b, err := u.Canonical(); b != nil || !errors.As(err, &ve) || ve.Field != "type" {
				t.Errorf("Canonical = %q, %v; want a *ValidationError on type", b, err)
			}
			if got := UnknownFields(u); got != nil {
				t.Errorf("UnknownFields = %q", got)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	tests := []struct {
		name, body string
		syntax     bool // the error wraps a *canonjson.SyntaxError
	}{
		{"empty", ``, true},
		{"not JSON", `type=sync`, true},
		{"truncated", `{"type":"sync"`, true},
		{"trailing data", `{"type":"sync"} {}`, true},
		{"array", `[{"type":"sync"}]`, false},
		{"null", `null`, false},
		{"string", `"sync"`, false},
		{"no type", `{"connectionId":"c1"}`, false},
		{"type null", `{"type":null}`, false},
		{"type number", `{"type":1}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Decode([]byte(tt.body))
			if err == nil || w != nil {
				t.Fatalf("Decode = %v, %v; want an error", w, err)
			}
			if !errors.Is(err, ErrInvalidBody) {
				t.Errorf("error %v does not match ErrInvalidBody", err)
			}
			var se *canonjson.SyntaxError
			if errors.As(err, &se) != tt.syntax {
				t.Errorf("error %v: wraps a SyntaxError = %v, want %v", err, !tt.syntax, tt.syntax)
			}
			if got := HTTPStatus(err); got != 400 {
				t.Errorf("HTTPStatus = %d, want 400", got)
			}
		})
	}
}
