package intake_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/postgres"
	"github.com/heraldhq/herald/nango"
)

const forwardEvent = `{"type":"forward","connectionId":"c1","providerConfigKey":"p","payload":{"k":"v"}}`

// TestParseCheckText: every identifier-like string of each webhook type is
// refused when it holds a NUL or a lone surrogate (ill-formed UTF-8), as a
// *nango.ValidationError naming the field's path.
func TestParseCheckText(t *testing.T) {
	env := &herald.Environment{Settings: herald.DefaultSettings()}
	// set returns body with the string field at path (dotted, at most one
	// level deep) replaced by the JSON literal lit.
	set := func(t *testing.T, body, path, lit string) string {
		t.Helper()
		v, err := canonjson.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		m := v.(map[string]any)
		if outer, inner, ok := strings.Cut(path, "."); ok {
			m = m[outer].(map[string]any)
			path = inner
		}
		s, err := canonjson.Parse([]byte(lit))
		if err != nil {
			t.Fatal(err)
		}
		m[path] = s
		b, err := canonjson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	fields := []struct {
		body   string
		fields []string
	}{
		{validAuth, []string{"from", "connectionId", "providerConfigKey", "authMode", "provider", "environment", "operation"}},
		{validSync, []string{"from", "connectionId", "providerConfigKey", "syncName", "syncVariant", "model", "syncType"}},
		{asyncAction, []string{"from", "connectionId", "providerConfigKey", "payload.id", "payload.statusUrl"}},
		{forwardEvent, []string{"from", "connectionId", "providerConfigKey"}},
	}
	bad := []struct{ name, lit string }{
		{"nul", `"a\u0000b"`},
		{"lone_surrogate", `"a\udeadb"`},
		{"lone_high_surrogate_at_end", `"ab\ud800"`},
	}
	// (syncType is also an enum: FromValue refuses the value first, naming
	// the same field.)
	for _, f := range fields {
		typ := strings.Split(strings.Split(f.body, `"type":"`)[1], `"`)[0]
		for _, field := range f.fields {
			for _, b := range bad {
				t.Run(typ+"/"+field+"/"+b.name, func(t *testing.T) {
					body := set(t, f.body, field, b.lit)
					v, err := canonjson.Parse([]byte(body))
					if err != nil {
						t.Fatal(err)
					}
					_, err = intake.Parse(env, v)
					var ve *nango.ValidationError
					if !errors.As(err, &ve) {
						t.Fatalf("Parse(%s) = %v, want a *nango.ValidationError", body, err)
					}
					if ve.Field != field {
						t.Fatalf("Parse(%s) names %q (%v), want %q", body, ve.Field, err, field)
					}
				})
			}
		}
	}
	// The same strings are fine in free-form parts and unknown fields.
	for _, body := range []string{
		strings.Replace(validAuth, `"success":true`, `"success":false,"error":{"type":"t\u0000","description":"\udead","payload":"\u0000"}`, 1),
		strings.Replace(failedSync, `"description":"boom"`, `"description":"boom\u0000","additional_properties":{"x":"\udead"}`, 1),
		strings.Replace(validSync, `"success":true`, `"success":true,"checkpoints":{"from":{"k":"\u0000"},"to":{"k":"\udead"}}`, 1),
		strings.Replace(validAuth, `"success":true`, `"success":true,"extra":"\u0000\udead","tags":{"t":"\u0000"}`, 1),
		strings.Replace(asyncAction, `"statusUrl":"/action/a1"`, `"statusUrl":"/action/a1","more":"\udead"`, 1),
		`{"type":"forward","providerConfigKey":"p","payload":"\u0000\udead"}`,
	} {
		v, err := canonjson.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := intake.Parse(env, v); err != nil {
			t.Errorf("Parse(%s) = %v, want it accepted (free-form part)", body, err)
		}
	}
}

// TestForwardPayloadKeepsNULAndLoneSurrogate: a forward payload is
// free-form: "\u0000" and "\udead" in it are accepted, stored as the
// canonical body and delivered byte for byte, on SQLite and PostgreSQL.
func TestForwardPayloadKeepsNULAndLoneSurrogate(t *testing.T) {
	const body = `{"type":"forward","connectionId":"c1","providerConfigKey":"p",` +
		`"payload":{"nul":"a\u0000b","lone":"\udead","pair":"\ud83d\ude00","\u0000key":["\ud800",1]}}`
	const want = `{"connectionId":"c1","from":"nango","payload":{"\u0000key":["\ud800",1],"lone":"\udead","nul":"a\u0000b","pair":"😀"},` +
		`"providerConfigKey":"p","type":"forward"}`
	if got := canonical(t, body); string(got) != want {
		t.Fatalf("canonical body\n got %s\nwant %s", got, want)
	}
	for _, st := range []struct {
		name string
		open func(t *testing.T) herald.Store
	}{
		{"sqlite", func(t *testing.T) herald.Store { _, s := stores(t); return s }},
		{"postgres", func(t *testing.T) herald.Store {
			db, err := postgres.Open(t.Context(), pgtest.DSN(t), discard)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return cache.New(db, cache.Options{})
		}},
	} {
		t.Run(st.name, func(t *testing.T) {
			store := st.open(t)
			rc := newReceiver(t)
			d := runDispatcher(t, store)
			env := newEnv(t, store, "prod", map[string]any{"primary_url": rc.URL("/hook")})
			svc := &intake.Service{Store: store, Dispatcher: d}
			answer, err := svc.AcceptEvent(t.Context(), env, "", hook(t, env, body))
			if err != nil {
				t.Fatalf("AcceptEvent: %v", err)
			}
			id := strings.Split(strings.Split(string(answer), `"id":"`)[1], `"`)[0]
			ev, _, err := store.GetEvent(t.Context(), env.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			if string(ev.Body) != want {
				t.Fatalf("stored body\n got %s\nwant %s", ev.Body, want)
			}
			waitFor(t, "the delivery", func() bool { return len(rc.Requests()) == 1 })
			if got := rc.Requests()[0].Body; !bytes.Equal(got, []byte(want)) {
				t.Fatalf("delivered body\n got %s\nwant %s", got, want)
			}
		})
	}
}
