package environments_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// now is the injected clock: a time with more than millisecond precision,
// in a zone other than UTC.
var now = time.Date(2026, 3, 25, 20, 42, 49, 717_123_456, time.FixedZone("CET", 3600))

// fixture is a real SQLite file behind the cache, as internal/server
// wires it, and the service over the cache.
type fixture struct {
	dir   string
	db    *sqlite.Store
	store *cache.Store
	svc   *environments.Service
}

func newFixture(t *testing.T, checkURL func(ctx context.Context, url string) error) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := cache.New(db, cache.Options{})
	svc := environments.New(environments.Config{Store: store, CheckURL: checkURL, Now: func() time.Time { return now }})
	return &fixture{dir: dir, db: db, store: store, svc: svc}
}

// heraldError returns err as a *herald.Error, failing the test otherwise.
func heraldError(t *testing.T, err error) *herald.Error {
	t.Helper()
	var he *herald.Error
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T), want a *herald.Error", err, err)
	}
	return he
}

func isUUIDv4(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && len(s) == 36 && u.Version() == 4 && u.Variant() == uuid.RFC4122
}

func TestCreateValidatesName(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		name, input string
		ok          bool
	}{
		{"empty", "", false},
		{"upper_case", "Prod", false},
		{"space", "a b", false},
		{"65_chars", strings.Repeat("a", 65), false},
		{"punctuation", "prod!", false},
		{"dot", "prod.eu", false},
		{"non_ascii", "prodé", false},
		{"trailing_newline", "prod\n", false},
		{"lower_case", "prod", true},
		{"one_char", "a", true},
		{"64_chars", strings.Repeat("b", 64), true},
		{"digits_dash_underscore", "dev_1-x", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, err := f.svc.Create(t.Context(), c.input)
			if c.ok {
				if err != nil {
					t.Fatalf("Create(%q): %v", c.input, err)
				}
				if env.Name != c.input {
					t.Errorf("name %q, want %q", env.Name, c.input)
				}
				return
			}
			he := heraldError(t, err)
			if he.Code != herald.ErrorInvalid || he.Field != "name" || env != nil {
				t.Errorf("Create(%q): %+v, env %v; want ErrorInvalid on field name", c.input, he, env)
			}
		})
	}
	list, err := f.svc.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	want := []string{"a", strings.Repeat("b", 64), "dev_1-x", "prod"}
	if !slices.Equal(names, want) {
		t.Errorf("stored names %q, want only the valid ones %q", names, want)
	}
}

func TestCreateDuplicate(t *testing.T) {
	f := newFixture(t, nil)
	first, err := f.svc.Create(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Create(t.Context(), "prod")
	he := heraldError(t, err)
	if he.Code != herald.ErrorConflict || !errors.Is(err, herald.ErrConflict) || !strings.Contains(he.Message, "prod") {
		t.Errorf("duplicate: %+v, want ErrorConflict naming prod", he)
	}
	// The first one is untouched and still authenticates.
	if env, err := f.svc.Authenticate(t.Context(), first.SecretKey); err != nil || env.ID != first.ID {
		t.Errorf("after a refused duplicate: %v, %v", env, err)
	}
}

// TestCreateKeys: fresh UUIDv4 keys, the secret key stored only as its
// SHA-256, default settings, the injected clock.
func TestCreateKeys(t *testing.T) {
	f := newFixture(t, nil)
	a, err := f.svc.Create(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Create(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, env := range []*herald.Environment{a, b} {
		for what, k := range map[string]string{"ID": env.ID, "SecretKey": env.SecretKey, "SigningKey": env.SigningKey} {
			if !isUUIDv4(k) {
				t.Errorf("%s %q is not a UUIDv4", what, k)
			}
			if seen[k] {
				t.Errorf("%s %q reused", what, k)
			}
			seen[k] = true
		}
		sum := sha256.Sum256([]byte(env.SecretKey))
		if !bytes.Equal(env.SecretKeyHash, sum[:]) {
			t.Errorf("SecretKeyHash is not the SHA-256 of the secret key")
		}
		if want := now.UTC().Truncate(time.Millisecond); !env.CreatedAt.Equal(want) || env.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt %v, want %v", env.CreatedAt, want)
		}
		if !reflect.DeepEqual(env.Settings, herald.DefaultSettings()) {
			t.Errorf("settings %+v, want the defaults", env.Settings)
		}

		stored, err := f.store.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.SecretKey != "" {
			t.Errorf("EnvironmentByID returned the secret key %q", stored.SecretKey)
		}
		if !bytes.Equal(stored.SecretKeyHash, env.SecretKeyHash) || stored.SigningKey != env.SigningKey || stored.Name != env.Name ||
			!stored.CreatedAt.Equal(env.CreatedAt) {
			t.Errorf("stored %+v, created %+v", stored, env)
		}
	}
	list, err := f.svc.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.SecretKey != "" {
			t.Errorf("List returned %s's secret key", e.Name)
		}
	}
	// Not in plain text anywhere in the database files (WAL included).
	files, err := filepath.Glob(filepath.Join(f.dir, "herald.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("database files: %v %v", files, err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range []*herald.Environment{a, b} {
			if bytes.Contains(data, []byte(env.SecretKey)) {
				t.Errorf("%s holds %s's secret key in plain text", filepath.Base(p), env.Name)
			}
		}
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, nil)
	a, err := f.svc.Create(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Create(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, key string
		want      *herald.Environment // nil: refused
	}{
		{"a_key", a.SecretKey, a},
		{"b_key", b.SecretKey, b},
		{"a_key_again_cached", a.SecretKey, a},
		{"empty", "", nil},
		{"garbage", "not-a-key", nil},
		{"fresh_uuid", uuid.NewString(), nil},
		{"signing_key", a.SigningKey, nil},
		{"environment_id", a.ID, nil},
		{"upper_case_key", strings.ToUpper(a.SecretKey), nil},
		{"key_with_space", a.SecretKey + " ", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, err := f.svc.Authenticate(t.Context(), c.key)
			if c.want != nil {
				if err != nil || env.ID != c.want.ID || env.Name != c.want.Name {
					t.Fatalf("Authenticate: %v, %v; want %s", env, err, c.want.Name)
				}
				if env.SecretKey != "" {
					t.Errorf("Authenticate returned the plain secret key")
				}
				return
			}
			he := heraldError(t, err)
			if he.Code != herald.ErrorUnauthorized || env != nil {
				t.Errorf("Authenticate(%q): %+v, %v; want ErrorUnauthorized", c.key, he, env)
			}
		})
	}
}

// checkURLs records the URLs CheckURL is asked about and refuses one.
type checkURLs struct {
	refuse string
	mu     sync.Mutex
	calls  []string
}

func (c *checkURLs) check(ctx context.Context, url string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, url)
	if url == c.refuse {
		return errors.New("resolves to a refused address")
	}
	return nil
}

func (c *checkURLs) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = nil
	return calls
}

// TestUpdateSettings runs patches in order against one environment: each
// either applies or is refused with the field named and nothing written,
// and CheckURL is asked only about the URLs the patch sets.
func TestUpdateSettings(t *testing.T) {
	const (
		urlA    = "http://127.0.0.1:1/a"
		urlB    = "http://127.0.0.1:1/b"
		refused = "http://127.0.0.1:1/refused"
	)
	check := &checkURLs{refuse: refused}
	f := newFixture(t, check.check)
	env, err := f.svc.Create(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(s string) *string { return &s }
	type want struct {
		primary, secondary *string
		onSyncError        bool
		timeoutMS          int
	}
	cases := []struct {
		name   string
		patch  any
		field  string // "": applied
		calls  []string
		result want // the stored settings afterwards
	}{
		{"bool_only", map[string]any{"on_sync_error": false}, "", nil, want{nil, nil, false, 20000}},
		{"set_primary", map[string]any{"primary_url": urlA}, "", []string{urlA}, want{ptr(urlA), nil, false, 20000}},
		{"set_secondary_keeps_primary_unchecked", map[string]any{"secondary_url": urlB, "timeout_ms": float64(5000)}, "",
			[]string{urlB}, want{ptr(urlA), ptr(urlB), false, 5000}},
		// A URL the patch sets again, unchanged, is checked again: the
		// patch names it, and where it resolves to may have changed.
		{"same_primary_again", map[string]any{"primary_url": urlA}, "", []string{urlA}, want{ptr(urlA), ptr(urlB), false, 5000}},
		{"refused_primary", map[string]any{"primary_url": refused, "on_sync_error": true}, "primary_url",
			[]string{refused}, want{ptr(urlA), ptr(urlB), false, 5000}},
		{"refused_secondary_next_to_good_primary", map[string]any{"primary_url": urlB, "secondary_url": refused}, "secondary_url",
			[]string{urlB, refused}, want{ptr(urlA), ptr(urlB), false, 5000}},
		{"invalid_value_not_checked", map[string]any{"primary_url": refused, "timeout_ms": float64(5)}, "timeout_ms",
			nil, want{ptr(urlA), ptr(urlB), false, 5000}},
		{"bad_syntax_not_checked", map[string]any{"secondary_url": "ftp://127.0.0.1/x"}, "secondary_url",
			nil, want{ptr(urlA), ptr(urlB), false, 5000}},
		{"unknown_field", map[string]any{"webhook_url": urlA}, "webhook_url", nil, want{ptr(urlA), ptr(urlB), false, 5000}},
		{"nested_field", map[string]any{"retry": map[string]any{"max_retries": float64(31)}}, "retry.max_retries",
			nil, want{ptr(urlA), ptr(urlB), false, 5000}},
		{"clear_secondary_not_checked", map[string]any{"secondary_url": nil}, "", nil, want{ptr(urlA), nil, false, 5000}},
		{"empty_string_clears_primary", map[string]any{"primary_url": ""}, "", nil, want{nil, nil, false, 5000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur, err := f.store.EnvironmentByID(t.Context(), env.ID)
			if err != nil {
				t.Fatal(err)
			}
			next, err := f.svc.UpdateSettings(t.Context(), cur, c.patch)
			if c.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				he := heraldError(t, err)
				if he.Code != herald.ErrorInvalid || he.Field != c.field {
					t.Errorf("error %+v, want ErrorInvalid on %s", he, c.field)
				}
				if !reflect.DeepEqual(next, herald.Settings{}) {
					t.Errorf("a refused patch returned settings %+v", next)
				}
			}
			if calls := check.take(); !slices.Equal(calls, c.calls) {
				t.Errorf("CheckURL asked about %q, want %q", calls, c.calls)
			}
			stored, err := f.store.EnvironmentByID(t.Context(), env.ID)
			if err != nil {
				t.Fatal(err)
			}
			s := stored.Settings
			got := want{s.PrimaryURL, s.SecondaryURL, s.OnSyncError, s.TimeoutMS}
			if !reflect.DeepEqual(got, c.result) {
				t.Errorf("stored primary %v secondary %v on_sync_error %v timeout %d, want %v %v %v %d",
					deref(got.primary), deref(got.secondary), got.onSyncError, got.timeoutMS,
					deref(c.result.primary), deref(c.result.secondary), c.result.onSyncError, c.result.timeoutMS)
			}
			if c.field == "" && !reflect.DeepEqual(next, s) {
				t.Errorf("UpdateSettings returned %+v, stored %+v", next, s)
			}
		})
	}
}

// TestUpdateSettingsAlertURL: alert_url is checked as the webhook URLs
// are (syntax, then CheckURL when the patch sets it), cleared by null, and
// never a webhook URL.
func TestUpdateSettingsAlertURL(t *testing.T) {
	const (
		alertA  = "http://127.0.0.1:1/alerts?token=a"
		refused = "http://127.0.0.1:1/refused"
	)
	check := &checkURLs{refuse: refused}
	f := newFixture(t, check.check)
	env, err := f.svc.Create(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		patch map[string]any
		field string // "": applied
		calls []string
		want  string // the stored alert_url, "" for none
	}{
		{"set", map[string]any{"alert_url": alertA}, "", []string{alertA}, alertA},
		{"refused_by_check", map[string]any{"alert_url": refused}, "alert_url", []string{refused}, alertA},
		{"refused_next_to_good_primary", map[string]any{"primary_url": "http://127.0.0.1:1/hook", "alert_url": refused}, "alert_url",
			[]string{"http://127.0.0.1:1/hook", refused}, alertA},
		{"bad_scheme_not_checked", map[string]any{"alert_url": "ftp://127.0.0.1/x"}, "alert_url", nil, alertA},
		{"not_a_string", map[string]any{"alert_url": float64(1)}, "alert_url", nil, alertA},
		{"other_field_keeps_it_unchecked", map[string]any{"timeout_ms": float64(3000)}, "", nil, alertA},
		{"null_clears_unchecked", map[string]any{"alert_url": nil}, "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur, err := f.store.EnvironmentByID(t.Context(), env.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.UpdateSettings(t.Context(), cur, c.patch)
			if c.field == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.field != "" {
				if he := heraldError(t, err); he.Code != herald.ErrorInvalid || he.Field != c.field {
					t.Errorf("error %+v, want ErrorInvalid on %s", he, c.field)
				}
			}
			if calls := check.take(); !slices.Equal(calls, c.calls) {
				t.Errorf("CheckURL asked about %q, want %q", calls, c.calls)
			}
			stored, err := f.db.EnvironmentByID(t.Context(), env.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if stored.Settings.AlertURL != nil {
				got = *stored.Settings.AlertURL
			}
			if got != c.want {
				t.Errorf("stored alert_url %q, want %q", got, c.want)
			}
			if slices.Contains(stored.Settings.URLs(), alertA) {
				t.Errorf("the alert URL is among the webhook URLs %v", stored.Settings.URLs())
			}
		})
	}

	// With herald's own address policy, a loopback alert URL is refused at
	// PATCH time, as a loopback webhook URL is.
	strict := newFixture(t, func(ctx context.Context, u string) error { return egress.CheckURL(ctx, u, egress.Options{}) })
	env2, err := strict.svc.Create(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.svc.UpdateSettings(t.Context(), env2, map[string]any{"alert_url": "http://127.0.0.1:9000/alerts"})
	if he := heraldError(t, err); he.Field != "alert_url" || !strings.Contains(he.Message, "loopback") {
		t.Errorf("a loopback alert_url: %+v, want refused as loopback", he)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestRotateSigningKey: the new key is what EnvironmentByID returns at
// once, even through a warm cache, and the previous key stays for
// RotationGrace after the injected now.
func TestRotateSigningKey(t *testing.T) {
	f := newFixture(t, nil)
	env, err := f.svc.Create(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	// Warm both cache entries.
	if _, err := f.store.EnvironmentByID(t.Context(), env.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(t.Context(), env.SecretKey); err != nil {
		t.Fatal(err)
	}
	// Stores keep times to the millisecond.
	expires := now.Add(environments.RotationGrace).Truncate(time.Millisecond)

	prev := env.SigningKey
	for round := 1; round <= 2; round++ {
		key, err := f.svc.RotateSigningKey(t.Context(), env)
		if err != nil {
			t.Fatal(err)
		}
		if !isUUIDv4(key) || key == prev {
			t.Fatalf("round %d: new key %q (previous %q)", round, key, prev)
		}
		byID, err := f.store.EnvironmentByID(t.Context(), env.ID)
		if err != nil {
			t.Fatal(err)
		}
		byKey, err := f.svc.Authenticate(t.Context(), env.SecretKey)
		if err != nil {
			t.Fatal(err)
		}
		for what, e := range map[string]*herald.Environment{"EnvironmentByID": byID, "Authenticate": byKey} {
			if e.SigningKey != key || e.PreviousSigningKey != prev || !e.PreviousKeyExpiresAt.Equal(expires) {
				t.Errorf("round %d, %s: key %s previous %s until %v; want %s %s %v",
					round, what, e.SigningKey, e.PreviousSigningKey, e.PreviousKeyExpiresAt, key, prev, expires)
			}
		}
		if got := byID.SigningKeys(now); !slices.Equal(got, []string{key, prev}) {
			t.Errorf("round %d: SigningKeys(now) = %v, want new then previous", round, got)
		}
		if got := byID.SigningKeys(expires); !slices.Equal(got, []string{key}) {
			t.Errorf("round %d: SigningKeys(now+grace) = %v, want the new key alone", round, got)
		}
		prev = key // a second rotation keeps the key current just before it
	}
}

func TestDelete(t *testing.T) {
	f := newFixture(t, nil)
	env, err := f.svc.Create(t.Context(), "prod")
	if err != nil {
		t.Fatal(err)
	}
	keep, err := f.svc.Create(t.Context(), "keep")
	if err != nil {
		t.Fatal(err)
	}
	// Warm the cache, so that Delete has to drop the entries.
	if _, err := f.svc.Authenticate(t.Context(), env.SecretKey); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.EnvironmentByID(t.Context(), env.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(t.Context(), env.ID); err != nil {
		t.Fatal(err)
	}

	_, err = f.svc.Authenticate(t.Context(), env.SecretKey)
	if he := heraldError(t, err); he.Code != herald.ErrorUnauthorized {
		t.Errorf("Authenticate after Delete: %+v, want ErrorUnauthorized", he)
	}
	if _, err := f.store.EnvironmentByID(t.Context(), env.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("EnvironmentByID after Delete: %v, want not found", err)
	}
	for _, id := range []string{env.ID, uuid.NewString()} {
		err := f.svc.Delete(t.Context(), id)
		if he := heraldError(t, err); he.Code != herald.ErrorNotFound {
			t.Errorf("Delete(%s) of a missing environment: %+v, want ErrorNotFound", id, he)
		}
	}
	if _, err := f.svc.RotateSigningKey(t.Context(), env); herald.ErrorCodeOf(err) != herald.ErrorNotFound {
		t.Errorf("RotateSigningKey of a deleted environment: %v, want not found", err)
	}
	if _, err := f.svc.UpdateSettings(t.Context(), env, map[string]any{"on_sync_error": false}); herald.ErrorCodeOf(err) != herald.ErrorNotFound {
		t.Errorf("UpdateSettings of a deleted environment: %v, want not found", err)
	}
	// The other environment is untouched, and the name is free again.
	if got, err := f.svc.Authenticate(t.Context(), keep.SecretKey); err != nil || got.ID != keep.ID {
		t.Errorf("the other environment after Delete: %v, %v", got, err)
	}
	again, err := f.svc.Create(t.Context(), "prod")
	if err != nil || again.ID == env.ID {
		t.Errorf("re-creating a deleted name: %v, %v", again, err)
	}
}
