package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/running.md: --dev creates an admin key and a dev environment in an empty
// database, prints their keys once, and allows private URLs.
func TestDevMode(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "dev.db")
	opts := heraldOpts{Raw: []string{"--dev", "--addr", "127.0.0.1:0", "--database", "sqlite:" + db}}
	h := startHerald(t, opts)
	out := h.stdout.String()
	grab := func(label string) string {
		t.Helper()
		m := regexp.MustCompile(label + `:\s+(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("--dev did not print %q; stdout:\n%s", label, out)
		}
		return m[1]
	}
	admin := grab("admin key")
	secret := grab("environment secret key")
	signing := grab("webhook signing key")

	var list struct {
		Data []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
	}
	r := h.Admin().withKey(admin).do(t, "GET", "/admin/environments", nil)
	r.want(t, http.StatusOK)
	r.decode(t, &list)
	if len(list.Data) != 1 || list.Data[0].Name != "dev" {
		t.Fatalf("--dev environments: %s, want one named dev", r.Body)
	}
	e := &env{client: &client{base: h.URL, key: secret}, ID: list.Data[0].ID, Name: "dev", SigningKey: signing}
	var got struct {
		Name string `json:"name"`
		Key  string `json:"webhook_signing_key"`
	}
	e.do(t, "GET", "/environment", nil).decode(t, &got)
	if got.Name != "dev" || got.Key != signing {
		t.Errorf("GET /environment with the printed secret: %+v, want dev with key %s", got, signing)
	}
	rc := newReceiver(t, nil)
	e.patch(t, map[string]any{"primary_url": rc.URL("/dev")}) // a loopback URL: allowed in --dev
	a := e.post(t, asyncEvent)
	checkSignedWith(t, rc.waitDeliveryRequests(t, a.Deliveries[0].ID, 1)[0], signing)

	// A restart on the same file creates nothing new and keeps the keys.
	if code := h.Stop(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	h2 := h.Restart(t)
	if strings.Contains(h2.stdout.String(), "admin key") || strings.Contains(h2.stdout.String(), "secret key") {
		t.Errorf("--dev printed keys again on a database that is not empty:\n%s", h2.stdout.String())
	}
	h2.Admin().withKey(admin).do(t, "GET", "/admin/environments", nil).want(t, http.StatusOK)
	e.base = h2.URL
	e.do(t, "GET", "/environment", nil).want(t, http.StatusOK)
}

// docs/running.md: every flag has an environment variable; the flag wins.
func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)

	t.Run("variables_only", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "env.db")
		h := startHerald(t, heraldOpts{Raw: []string{}, Env: []string{
			"HERALD_ADDR=127.0.0.1:0", "HERALD_DATABASE_URL=sqlite:" + db,
			"HERALD_ADMIN_KEY=key-from-env", "HERALD_ALLOW_PRIVATE_URLS=true",
		}})
		r := h.Admin().withKey("key-from-env").do(t, "POST", "/admin/environments", `{"name":"fromenv"}`)
		r.want(t, http.StatusCreated)
		var created struct {
			SecretKey string `json:"secret_key"`
		}
		r.decode(t, &created)
		e := &env{client: &client{base: h.URL, key: created.SecretKey}}
		e.patch(t, map[string]any{"primary_url": rc.URL("/env")})
	})

	t.Run("flags_win", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "flags.db")
		h := startHerald(t, heraldOpts{
			Raw: []string{"--addr", "127.0.0.1:0", "--database", "sqlite:" + db, "--admin-key", "key-from-flag", "--allow-private-urls=false"},
			Env: []string{"HERALD_ADMIN_KEY=key-from-env", "HERALD_ALLOW_PRIVATE_URLS=true",
				"HERALD_DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "not-this.db")},
		})
		checkError(t, h.Admin().withKey("key-from-env").do(t, "GET", "/admin/environments", nil), http.StatusUnauthorized, "unauthorized")
		r := h.Admin().withKey("key-from-flag").do(t, "POST", "/admin/environments", `{"name":"fromflag"}`)
		r.want(t, http.StatusCreated)
		var created struct {
			SecretKey string `json:"secret_key"`
		}
		r.decode(t, &created)
		e := &env{client: &client{base: h.URL, key: created.SecretKey}}
		checkError(t, e.do(t, "PATCH", "/environment/webhook", map[string]any{"primary_url": rc.URL("/flag")}),
			http.StatusBadRequest, "invalid_body", "primary_url")
	})
}

// docs/authentication.md, docs/settings.md: environments, their settings and their deletion.
func TestEnvironments(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := h.Anon().do(t, "GET", p, nil); r.Status != http.StatusOK {
			t.Errorf("%s", r)
		}
	}
	e := newEnv(t, h)
	keep := newEnv(t, h)

	// The list never shows secrets.
	r := h.Admin().do(t, "GET", "/admin/environments", nil)
	r.want(t, http.StatusOK)
	var list struct {
		Data []map[string]any `json:"data"`
	}
	r.decodeStrict(t, &list)
	found := false
	for _, en := range list.Data {
		for k := range en {
			if k != "id" && k != "name" && k != "created_at" {
				t.Errorf("GET /admin/environments shows %q: %v", k, en)
			}
		}
		found = found || en["id"] == e.ID
	}
	if !found {
		t.Errorf("GET /admin/environments does not list %s", e.ID)
	}

	// A new environment's settings are the defaults of docs/settings.md.
	r = e.do(t, "GET", "/environment", nil)
	r.want(t, http.StatusOK)
	var top map[string]json.RawMessage
	r.decode(t, &top)
	for _, k := range []string{"id", "name", "webhook_settings", "webhook_signing_key"} {
		if _, ok := top[k]; !ok {
			t.Errorf("GET /environment lacks %q: %s", k, r.Body)
		}
	}
	defaults := `{"primary_url":null,"secondary_url":null,"on_auth_creation":true,"on_auth_refresh_error":true,"on_sync_error":true,` +
		`"on_sync_completion_always":true,"on_async_action_completion":true,"on_connection_deletion":false,` +
		`"retry":{"max_retries":2,"initial_delay_ms":100,"multiplier":2,"max_delay_ms":86400000,"jitter":0},` +
		`"standard_webhooks":false,"timeout_ms":20000,"strict_validation":false,"alert_url":null}`
	if !jsonEqual(top["webhook_settings"], []byte(defaults)) {
		t.Errorf("default webhook_settings:\n got %s\nwant %s", top["webhook_settings"], defaults)
	}

	// PATCH returns the whole settings object; a retry object is replaced whole.
	got := e.patch(t, map[string]any{"on_sync_error": false, "retry": map[string]any{"schedule_ms": []int{5000, 300000}}})
	want := strings.NewReplacer(`"on_sync_error":true`, `"on_sync_error":false`,
		`"retry":{"max_retries":2,"initial_delay_ms":100,"multiplier":2,"max_delay_ms":86400000,"jitter":0}`, `"retry":{"schedule_ms":[5000,300000]}`).Replace(defaults)
	gotJSON, _ := json.Marshal(got)
	if !jsonEqual(gotJSON, []byte(want)) {
		t.Errorf("PATCH answer:\n got %s\nwant %s", gotJSON, want)
	}
	got = e.patch(t, map[string]any{"retry": map[string]any{"max_retries": 5}})
	gotJSON, _ = json.Marshal(got["retry"])
	if !jsonEqual(gotJSON, []byte(`{"max_retries":5,"initial_delay_ms":100,"multiplier":2,"max_delay_ms":86400000,"jitter":0}`)) {
		t.Errorf("retry after PATCH {max_retries:5}: %s", gotJSON)
	}

	// Only a secondary URL: webhooks go there. Then no URL at all: skipped.
	rc := newReceiver(t, nil)
	e.patch(t, map[string]any{"secondary_url": rc.URL("/second")})
	a := e.post(t, asyncEvent)
	if len(a.Deliveries) != 1 || a.Deliveries[0].URL != rc.URL("/second") {
		t.Fatalf("with only a secondary URL: %+v", a)
	}
	rc.waitDeliveryRequests(t, a.Deliveries[0].ID, 1)
	e.patch(t, map[string]any{"secondary_url": nil, "primary_url": ""})
	if a := e.post(t, asyncEvent); a.Skipped == nil || *a.Skipped != "no_webhook_url" {
		t.Errorf("after clearing both URLs: %+v (skipped %s), want skipped no_webhook_url", a, deref(a.Skipped))
	}

	// Deletion.
	del := h.Admin().do(t, "DELETE", "/admin/environments/"+e.ID, nil)
	if del.Status != http.StatusNoContent || len(del.Body) != 0 {
		t.Errorf("%s, want 204 with no body", del)
	}
	checkError(t, e.do(t, "GET", "/environment", nil), http.StatusUnauthorized, "unauthorized")
	checkError(t, h.Admin().do(t, "DELETE", "/admin/environments/"+e.ID, nil), http.StatusNotFound, "not_found")
	r = h.Admin().do(t, "GET", "/admin/environments", nil)
	if strings.Contains(string(r.Body), e.ID) {
		t.Errorf("deleted environment still listed: %s", r.Body)
	}
	keep.do(t, "GET", "/environment", nil).want(t, http.StatusOK)
	// The name is free again.
	h.Admin().do(t, "POST", "/admin/environments", map[string]string{"name": e.Name}).want(t, http.StatusCreated)
}
