package api_test

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// route is one authenticated route of server.go, with a body that would
// be accepted (and change something) if authentication let it through.
type route struct {
	method, pattern string
	admin           bool
	body            string
}

var authRoutes = []route{
	{"POST", "/admin/environments", true, `{"name":"sneaky"}`},
	{"GET", "/admin/environments", true, ""},
	{"DELETE", "/admin/environments/{id}", true, ""},
	{"GET", "/environment", false, ""},
	{"PATCH", "/environment/webhook", false, `{"on_auth_creation":false}`},
	{"POST", "/environment/webhook-signing-key/rotate", false, ""},
	{"GET", "/environment/otlp", false, ""},
	{"PATCH", "/environment/otlp", false, `{"endpoint":null}`},
	{"POST", "/events", false, validAuth},
	{"POST", "/events/batch", false, `{"events":[` + validAuth + `]}`},
	{"GET", "/events", false, ""},
	{"GET", "/events/{id}", false, ""},
	{"POST", "/events/{id}/replay", false, ""},
	{"POST", "/events/replay", false, `{"since":"2020-01-01T00:00:00Z","until":"2030-01-01T00:00:00Z"}`},
	{"GET", "/integrations", false, ""},
	{"PUT", "/integrations/{providerConfigKey}", false, `{"provider":"github"}`},
	{"GET", "/integrations/{providerConfigKey}", false, ""},
	{"DELETE", "/integrations/{providerConfigKey}", false, ""},
	{"GET", "/connections", false, ""},
	{"PUT", "/connections/{providerConfigKey}/{connectionId}", false, `{"metadata":{"a":1}}`},
	{"GET", "/connections/{providerConfigKey}/{connectionId}", false, ""},
	{"DELETE", "/connections/{providerConfigKey}/{connectionId}", false, ""},
	{"GET", "/deliveries", false, ""},
	{"GET", "/deliveries/{id}", false, ""},
	{"POST", "/deliveries/{id}/retry", false, ""},
	{"POST", "/deliveries/recover", false, `{"since":"2020-01-01T00:00:00Z","until":"2030-01-01T00:00:00Z"}`},
	{"GET", "/endpoints", false, ""},
	{"GET", "/endpoints/{id}", false, ""},
	{"PATCH", "/endpoints/{id}", false, `{"rate_limit_per_s":5}`},
	{"POST", "/endpoints/{id}/enable", false, ""},
	{"POST", "/endpoints/{id}/disable", false, ""},
}

// TestAuthRoutesCoverServer keeps authRoutes in step with server.go: every
// route wrapped in s.admin or s.env must be in the authentication table,
// with the same kind of key.
func TestAuthRoutesCoverServer(t *testing.T) {
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`HandleFunc\("([A-Z]+) ([^"]+)",\s*s\.(admin|env)\(`)
	matches := re.FindAllStringSubmatch(string(src), -1)
	if len(matches) == 0 {
		t.Fatal("found no authenticated route in server.go: has the registration changed?")
	}
	for _, m := range matches {
		want := route{method: m[1], pattern: m[2], admin: m[3] == "admin"}
		if !slices.ContainsFunc(authRoutes, func(r route) bool {
			return r.method == want.method && r.pattern == want.pattern && r.admin == want.admin
		}) {
			t.Errorf("server.go registers %s %s (admin=%v), which the authentication table does not test", want.method, want.pattern, want.admin)
		}
	}
	if len(matches) != len(authRoutes) {
		t.Errorf("server.go has %d authenticated routes, the table %d", len(matches), len(authRoutes))
	}
}

// TestAuthentication sends every authenticated route every credential that
// must not open it and expects 401 unauthorized in the envelope, then
// checks that none of those requests changed anything.
func TestAuthentication(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	owner := f.newEnv(t, "owner", map[string]any{"primary_url": rc.URL("/owner")})
	other := f.newEnv(t, "other", nil)
	gone := f.newEnv(t, "gone", nil)
	if err := f.envs.Delete(t.Context(), gone.ID); err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "POST", "/events", owner.SecretKey, validAuth)
	r.want(t, http.StatusAccepted)
	var ev accepted
	r.decode(t, &ev)
	if len(ev.Deliveries) != 1 {
		t.Fatalf("owner's event has %d deliveries, want 1", len(ev.Deliveries))
	}
	ids := map[string]string{
		"/admin/environments/{id}": owner.ID,
		"/events/{id}":             ev.ID,
		"/events/{id}/replay":      ev.ID,
		"/deliveries/{id}":         ev.Deliveries[0].ID,
		"/deliveries/{id}/retry":   ev.Deliveries[0].ID,
	}
	ep, err := f.store.EndpointByURL(t.Context(), owner.ID, rc.URL("/owner"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/endpoints/{id}", "/endpoints/{id}/enable", "/endpoints/{id}/disable"} {
		ids[p] = ep.ID
	}
	path := func(pattern string) string {
		if id, ok := ids[pattern]; ok {
			return strings.Replace(pattern, "{id}", id, 1)
		}
		return strings.NewReplacer("{providerConfigKey}", "github", "{connectionId}", "c1").Replace(pattern)
	}

	type credential struct {
		name  string
		onEnv bool // refused on environment routes
		onAdm bool // refused on admin routes
		auth  string
	}
	creds := []credential{
		{"no_key", true, true, ""},
		{"garbage_key", true, true, "Bearer not-a-key"},
		{"empty_bearer", true, true, "Bearer "},
		{"basic_scheme_env_key", true, false, "Basic " + owner.SecretKey},
		{"basic_scheme_admin_key", false, true, "Basic " + adminKey},
		{"env_key_without_scheme", true, false, owner.SecretKey},
		{"admin_key_without_scheme", false, true, adminKey},
		{"deleted_environment_key", true, true, "Bearer " + gone.SecretKey},
		{"admin_key", true, false, "Bearer " + adminKey},
		{"env_key", false, true, "Bearer " + owner.SecretKey},
		{"other_env_key", false, true, "Bearer " + other.SecretKey},
		{"wrong_admin_key", false, true, "Bearer " + adminKey + "x"},
		{"signing_key_as_secret", true, true, "Bearer " + owner.SigningKey},
	}
	for _, rt := range authRoutes {
		for _, c := range creds {
			if (rt.admin && !c.onAdm) || (!rt.admin && !c.onEnv) {
				continue
			}
			t.Run(rt.method+"_"+rt.pattern+"/"+c.name, func(t *testing.T) {
				var body any
				if rt.body != "" {
					body = rt.body
				}
				var hdr []string
				if c.auth != "" {
					hdr = []string{"Authorization", c.auth}
				}
				r := f.do(t, rt.method, path(rt.pattern), "", body, hdr...)
				e := checkError(t, r, http.StatusUnauthorized, "unauthorized")
				for _, secret := range []string{owner.SecretKey, other.SecretKey, adminKey} {
					if strings.Contains(e.Error.Message, secret) {
						t.Errorf("message %q echoes a key", e.Error.Message)
					}
				}
			})
		}
	}

	// Nothing of the above changed anything.
	view := f.getEnvironment(t, owner.SecretKey)
	if view.Settings["on_auth_creation"] != true {
		t.Errorf("a refused PATCH was applied: on_auth_creation = %v", view.Settings["on_auth_creation"])
	}
	if view.WebhookSigningKey != owner.SigningKey {
		t.Errorf("a refused rotation changed the signing key")
	}
	list, err := f.envs.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"owner", "other"}) {
		t.Errorf("environments after refused requests: %v, want [owner other]", names)
	}
	for _, p := range []string{"/integrations/github", "/connections/github/c1"} {
		f.do(t, "GET", p, owner.SecretKey, nil).want(t, http.StatusNotFound)
		f.do(t, "GET", p, other.SecretKey, nil).want(t, http.StatusNotFound)
	}
	r = f.do(t, "GET", "/deliveries", owner.SecretKey, nil)
	r.want(t, http.StatusOK)
	var page struct {
		Data       []map[string]any `json:"data"`
		NextCursor *string          `json:"next_cursor"`
	}
	r.decode(t, &page)
	if len(page.Data) != 1 {
		t.Errorf("owner has %d deliveries after refused POSTs, want 1", len(page.Data))
	}
}

// TestOtherEnvironmentKey: a valid key of another environment opens the
// routes for its own environment only; the owner's event and delivery are
// 404 not_found, exactly as an id that does not exist.
func TestOtherEnvironmentKey(t *testing.T) {
	f := newFixture(t, options{})
	rc := newReceiver(t)
	owner := f.newEnv(t, "owner", map[string]any{"primary_url": rc.URL("/owner")})
	other := f.newEnv(t, "other", nil)
	r := f.do(t, "POST", "/events", owner.SecretKey, validAuth)
	r.want(t, http.StatusAccepted)
	var ev accepted
	r.decode(t, &ev)

	for _, c := range []struct {
		name, path string
	}{
		{"event", "/events/" + ev.ID},
		{"delivery", "/deliveries/" + ev.Deliveries[0].ID},
		{"unknown_event", "/events/0190a4c2-0000-7000-8000-00000000abcd"},
		{"unknown_delivery", "/deliveries/0190a4c2-0000-7000-8000-00000000abcd"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkError(t, f.do(t, "GET", c.path, other.SecretKey, nil), http.StatusNotFound, "not_found")
		})
	}
	// The owner itself reads them.
	f.do(t, "GET", "/events/"+ev.ID, owner.SecretKey, nil).want(t, http.StatusOK)
	f.do(t, "GET", "/deliveries/"+ev.Deliveries[0].ID, owner.SecretKey, nil).want(t, http.StatusOK)
	// other's own routes answer about other.
	if v := f.getEnvironment(t, other.SecretKey); v.ID != other.ID || v.Name != "other" {
		t.Errorf("GET /environment with other's key: %+v", v)
	}
	r = f.do(t, "GET", "/deliveries", other.SecretKey, nil)
	r.want(t, http.StatusOK)
	if got := string(r.body); got != `{"data":[],"next_cursor":null}` {
		t.Errorf("other's deliveries: %s, want none", got)
	}
}

// TestBearerScheme: the scheme is matched in any case and spaces around the
// key are ignored (docs/authentication.md).
func TestBearerScheme(t *testing.T) {
	f := newFixture(t, options{})
	env := f.newEnv(t, "prod", nil)
	for _, c := range []struct {
		name, path, auth string
	}{
		{"env_lower", "/environment", "bearer " + env.SecretKey},
		{"env_upper_spaces", "/environment", "BEARER   " + env.SecretKey + "  "},
		{"admin_mixed", "/admin/environments", "bEaReR " + adminKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.do(t, "GET", c.path, "", nil, "Authorization", c.auth).want(t, http.StatusOK)
		})
	}
}

// TestAdminRoutesDisabled: without an admin key every admin route answers
// 401 and says how to configure one, whatever key is sent; environment
// routes are unaffected.
func TestAdminRoutesDisabled(t *testing.T) {
	f := newFixture(t, options{noAdmin: true})
	env := f.newEnv(t, "prod", nil)
	for _, rt := range authRoutes {
		if !rt.admin {
			continue
		}
		p := strings.Replace(rt.pattern, "{id}", env.ID, 1)
		for _, key := range []string{"", adminKey, env.SecretKey} {
			var body any
			if rt.body != "" {
				body = rt.body
			}
			r := f.do(t, rt.method, p, key, body)
			checkError(t, r, http.StatusUnauthorized, "unauthorized", "--admin-key", "HERALD_ADMIN_KEY")
		}
	}
	if _, err := f.envs.Authenticate(t.Context(), env.SecretKey); err != nil {
		t.Errorf("the DELETE with admin routes disabled removed the environment: %v", err)
	}
	f.do(t, "GET", "/environment", env.SecretKey, nil).want(t, http.StatusOK)
}
