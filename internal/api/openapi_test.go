package api_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/docs"
	"github.com/heraldhq/herald/internal/api"
	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/internal/forward"
	"github.com/heraldhq/herald/internal/openapitest"
	"github.com/heraldhq/herald/internal/telemetry"
)

// openAPIDoc parses docs/openapi.yaml, as herald embeds and serves it.
func openAPIDoc(t *testing.T) *openapitest.Doc {
	t.Helper()
	d, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mountHandlers are the handlers that herald serve mounts on the API with
// Server.Mount (internal/server), by pattern. TestOpenAPIRoutes checks
// that this table holds exactly the patterns internal/server mounts.
func mountHandlers() map[string]http.Handler {
	ui := console.Handler()
	return map[string]http.Handler{
		"GET /metrics": telemetry.New(nil).Handler(),
		console.Prefix: ui,
		"GET /ui":      ui,
	}
}

// mountedPatterns reads, from the source of internal/server, the pattern
// of every Server.Mount call: a string literal, or a constant this
// function knows. Reading the source keeps the route walk whole without
// running a whole herald process.
func mountedPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "server", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{"console.Prefix": console.Prefix}
	fset := token.NewFileSet()
	var patterns []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Mount" || len(call.Args) != 2 {
				return true
			}
			switch arg := call.Args[0].(type) {
			case *ast.BasicLit:
				p, err := strconv.Unquote(arg.Value)
				if err != nil {
					t.Fatalf("%s: %v", fset.Position(arg.Pos()), err)
				}
				patterns = append(patterns, p)
			case *ast.SelectorExpr:
				x, _ := arg.X.(*ast.Ident)
				if x == nil || consts[x.Name+"."+arg.Sel.Name] == "" {
					t.Fatalf("%s: Mount with a pattern this test cannot read: add it to mountedPatterns' constants", fset.Position(arg.Pos()))
				}
				patterns = append(patterns, consts[x.Name+"."+arg.Sel.Name])
			default:
				t.Fatalf("%s: Mount with a pattern this test cannot read: use a string literal or a constant", fset.Position(arg.Pos()))
			}
			return true
		})
	}
	if len(patterns) == 0 {
		t.Fatal("found no Mount call in internal/server: has the wiring moved?")
	}
	slices.Sort(patterns)
	return patterns
}

// TestOpenAPIRoutes walks the routes the API registers (Server.Routes,
// after the mounts of herald serve) and docs/openapi.yaml, and fails on a
// route missing from either, or path parameters that differ.
func TestOpenAPIRoutes(t *testing.T) {
	d := openAPIDoc(t)
	handlers := mountHandlers()
	mounted := mountedPatterns(t)
	if got := slices.Sorted(maps.Keys(handlers)); !slices.Equal(got, mounted) {
		t.Fatalf("internal/server mounts %q, mountHandlers has %q: keep them in step (and docs/openapi.yaml)", mounted, got)
	}
	srv := api.New(api.Config{Logger: discard})
	for _, p := range mounted {
		srv.Mount(p, handlers[p])
	}

	served := map[string]bool{}
	for _, pattern := range srv.Routes() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			// A pattern without a method is a mounted handler that
			// chooses its methods itself (the console: GET and HEAD,
			// 405 for the rest, which TestOpenAPIAnswers checks); the
			// document describes its GET.
			method, path = http.MethodGet, pattern
		}
		if !strings.HasPrefix(path, "/") || strings.Contains(path, "...}") {
			t.Errorf("route %q: a host or a multi-segment wildcard cannot be described in OpenAPI", pattern)
		}
		if served[method+" "+path] {
			t.Errorf("route %q is registered twice", pattern)
		}
		served[method+" "+path] = true
	}
	documented := map[string]bool{}
	for _, o := range d.Operations() {
		documented[o.String()] = true
	}
	for _, r := range slices.Sorted(maps.Keys(served)) {
		if !documented[r] {
			t.Errorf("herald serves %s, which docs/openapi.yaml does not describe", r)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(documented)) {
		if !served[r] {
			t.Errorf("docs/openapi.yaml describes %s, which herald does not serve", r)
		}
	}

	for _, o := range d.Operations() {
		params, err := d.Parameters(o)
		if err != nil {
			t.Fatal(err)
		}
		var inPath []string
		for _, p := range params {
			if p.In != "path" {
				continue
			}
			inPath = append(inPath, p.Name)
			if !p.Required {
				t.Errorf("%s: path parameter %s is not required", o, p.Name)
			}
		}
		want := openapitest.PathParams(o.Path)
		slices.Sort(inPath)
		slices.Sort(want)
		if !slices.Equal(inPath, want) {
			t.Errorf("%s: path parameters %q, the path has %q", o, inPath, want)
		}
	}
}

// TestOpenAPIProviders checks that every provider the document lists is
// one forwarding knows.
func TestOpenAPIProviders(t *testing.T) {
	d := openAPIDoc(t)
	v, ok := d.Lookup("#/components/schemas/Provider/enum")
	if !ok {
		t.Fatal("no components/schemas/Provider/enum")
	}
	for _, p := range v.([]any) {
		if !forward.Known(p.(string)) {
			t.Errorf("the document lists provider %q, which forwarding does not know", p)
		}
	}
}

// apiStep is one request of TestOpenAPIAnswers and the answer it expects.
type apiStep struct {
	// op is the documented operation ("POST /events/{id}/replay"), or ""
	// for a request herald answers with the error envelope outside any
	// operation (no such path, or a method the path does not take).
	op string
	// method is the request's method when op is "".
	method string
	// path is the request path; {name} is replaced by vars[name].
	path string
	// key is "admin", "env" (the environment's secret key) or "" (none).
	key    string
	body   string
	header []string
	status int
	// code is the error code expected, for an error answer.
	code string
	// save records values of the JSON answer in vars: name → JSON pointer.
	save map[string]string
	// before runs before the request.
	before func(t *testing.T)
}

// TestOpenAPIAnswers calls every documented operation of a running API,
// in an order that creates what the next needs, and some that fail, and
// checks that each answer is documented: its status for that operation,
// its headers, its media type, and its JSON body against the response
// schema. A request body herald accepts must match the documented request
// schema, and one it refuses as invalid_body must not. Every operation
// must have been answered with a success.
func TestOpenAPIAnswers(t *testing.T) {
	d := openAPIDoc(t)
	f := newFixture(t, options{mount: mountHandlers()})
	rc := newReceiver(t)
	now := time.Now().UTC()
	vars := map[string]string{
		"receiver": rc.URL("/hook"),
		"unknown":  "0195d1a2-0000-7000-8000-000000000000",
		"since":    now.Add(-time.Hour).Format(time.RFC3339),
		"until":    now.Add(time.Hour).Format(time.RFC3339),
	}
	delivered := func(t *testing.T) {
		waitFor(t, "the delivery to succeed", func() bool {
			r := f.do(t, "GET", "/deliveries/"+vars["delivery"], vars["key"], nil)
			var v struct{ Status string }
			json.Unmarshal(r.body, &v)
			return v.Status == "succeeded"
		})
	}
	steps := []apiStep{
		{op: "GET /healthz", path: "/healthz", status: 200},
		{op: "GET /readyz", path: "/readyz", status: 200},
		{op: "GET /openapi.yaml", path: "/openapi.yaml", status: 200},
		{op: "GET /metrics", path: "/metrics", status: 200},
		{op: "GET /ui/", path: "/ui/", status: 200},
		{op: "GET /ui", path: "/ui", status: 301},
		{method: "POST", path: "/ui/", body: "{}", status: 405, code: "method_not_allowed"},
		{method: "GET", path: "/no-such-route", status: 404, code: "not_found"},

		{op: "POST /admin/environments", path: "/admin/environments", key: "admin", body: `{"name":"walk"}`, status: 201,
			save: map[string]string{"env": "/id", "key": "/secret_key"}},
		{op: "POST /admin/environments", path: "/admin/environments", key: "admin", body: `{"name":"walk"}`, status: 409, code: "conflict"},
		{op: "POST /admin/environments", path: "/admin/environments", key: "admin", body: `{"name":"Not Valid"}`, status: 400, code: "invalid_body"},
		{op: "POST /admin/environments", path: "/admin/environments", key: "env", body: `{"name":"other"}`, status: 401, code: "unauthorized"},
		{op: "GET /admin/environments", path: "/admin/environments", key: "admin", status: 200},

		{op: "GET /environment", path: "/environment", status: 401, code: "unauthorized"},
		{op: "GET /environment", path: "/environment", key: "env", status: 200},
		{op: "PATCH /environment/webhook", path: "/environment/webhook", key: "env", body: `{"primary_url":"{receiver}","retry":{"schedule_ms":[10,20]}}`, status: 200},
		{op: "PATCH /environment/webhook", path: "/environment/webhook", key: "env", body: `{"timeout_ms":5}`, status: 400, code: "invalid_body"},
		{op: "POST /environment/webhook-signing-key/rotate", path: "/environment/webhook-signing-key/rotate", key: "env", status: 200},
		{op: "GET /environment/otlp", path: "/environment/otlp", key: "env", status: 200},
		{op: "PATCH /environment/otlp", path: "/environment/otlp", key: "env",
			body: `{"endpoint":"http://127.0.0.1:9/otlp","headers":{"authorization":"Bearer t"},"span_names":"nango"}`, status: 200},
		{op: "GET /environment/otlp", path: "/environment/otlp", key: "env", status: 200},
		{op: "PATCH /environment/otlp", path: "/environment/otlp", key: "env", body: `{"span_names":"zipkin"}`, status: 400, code: "invalid_body"},

		{op: "POST /events", path: "/events", key: "env", body: validSync, header: []string{"Idempotency-Key", "walk-1"}, status: 202,
			save: map[string]string{"event": "/id", "delivery": "/deliveries/0/id"}},
		{op: "POST /events", path: "/events", key: "env", body: validAuth, header: []string{"Idempotency-Key", "walk-1"}, status: 422, code: "idempotency_key_reused"},
		{op: "POST /events", path: "/events", key: "env", status: 400, code: "invalid_body",
			body: `{"type":"async_action","connectionId":"c1","providerConfigKey":"github","payload":{"id":"a1"}}`},
		{op: "POST /events/batch", path: "/events/batch", key: "env", body: `{"events":[` + validAuth + `,` + validSync + `]}`, status: 202},
		{op: "POST /events/batch", path: "/events/batch", key: "env", body: `{"events":[]}`, status: 400, code: "invalid_body"},

		{op: "GET /deliveries", path: "/deliveries?type=sync", key: "env", status: 200},
		{op: "GET /deliveries", path: "/deliveries?limit=500", key: "env", status: 400, code: "invalid_query_params"},
		{op: "GET /deliveries/{id}", path: "/deliveries/{delivery}", key: "env", status: 200, before: delivered},
		{op: "GET /deliveries/{id}", path: "/deliveries/123", key: "env", status: 400, code: "invalid_uri_params"},
		{op: "GET /deliveries/{id}", path: "/deliveries/{unknown}", key: "env", status: 404, code: "not_found"},
		{op: "POST /deliveries/{id}/retry", path: "/deliveries/{delivery}/retry", key: "env", status: 202},
		{op: "POST /deliveries/recover", path: "/deliveries/recover", key: "env", body: `{"since":"{since}","until":"{until}"}`, status: 202},
		{op: "POST /deliveries/recover", path: "/deliveries/recover", key: "env", body: `{"since":"{since}"}`, status: 400, code: "invalid_body"},

		{op: "GET /events", path: "/events?type=sync", key: "env", status: 200},
		{op: "GET /events/{id}", path: "/events/{event}", key: "env", status: 200},
		{op: "GET /events/{id}", path: "/events/{unknown}", key: "env", status: 404, code: "not_found"},
		{op: "POST /events/{id}/replay", path: "/events/{event}/replay", key: "env", status: 202},
		{op: "POST /events/replay", path: "/events/replay", key: "env", body: `{"since":"{since}","until":"{until}","type":"auth"}`, status: 202},
		{op: "POST /events/replay", path: "/events/replay", key: "env", body: `{"since":"{since}","until":"{until}","type":"push"}`, status: 400, code: "invalid_body"},

		{op: "GET /endpoints", path: "/endpoints", key: "env", status: 200, save: map[string]string{"endpoint": "/data/0/id"}},
		{op: "GET /endpoints/{id}", path: "/endpoints/{endpoint}", key: "env", status: 200},
		{op: "PATCH /endpoints/{id}", path: "/endpoints/{endpoint}", key: "env", status: 200,
			body: `{"rate_limit_per_s":50,"max_concurrency":4,"headers":{"X-Api-Key":"k1"}}`},
		{op: "PATCH /endpoints/{id}", path: "/endpoints/{endpoint}", key: "env", body: `{"max_concurrency":0}`, status: 400, code: "invalid_body"},
		{op: "POST /endpoints/{id}/disable", path: "/endpoints/{endpoint}/disable", key: "env", status: 200},
		{op: "POST /endpoints/{id}/enable", path: "/endpoints/{endpoint}/enable", key: "env", status: 200},
		{op: "POST /endpoints/{id}/enable", path: "/endpoints/{unknown}/enable", key: "env", status: 404, code: "not_found"},

		{op: "PUT /integrations/{providerConfigKey}", path: "/integrations/internal", key: "env", body: `{"provider":"unauthenticated"}`, status: 200},
		{op: "PUT /integrations/{providerConfigKey}", path: "/integrations/other", key: "env", body: `{"provider":"nope"}`, status: 400, code: "invalid_body"},
		{op: "GET /integrations", path: "/integrations?limit=10", key: "env", status: 200},
		{op: "GET /integrations/{providerConfigKey}", path: "/integrations/internal", key: "env", status: 200},
		{op: "GET /integrations/{providerConfigKey}", path: "/integrations/nope", key: "env", status: 404, code: "unknown_provider_config"},
		{op: "PUT /connections/{providerConfigKey}/{connectionId}", path: "/connections/internal/acme", key: "env", status: 200,
			body: `{"connection_config":{"accountId":7},"metadata":{},"tags":{"plan":"pro"},"webhook_url_override":null}`},
		{op: "GET /connections", path: "/connections?provider_config_key=internal", key: "env", status: 200},
		{op: "GET /connections/{providerConfigKey}/{connectionId}", path: "/connections/internal/acme", key: "env", status: 200},
		{op: "GET /connections/{providerConfigKey}/{connectionId}", path: "/connections/internal/nobody", key: "env", status: 404, code: "not_found"},

		{op: "POST /webhook/{environmentId}/{providerConfigKey}", path: "/webhook/{env}/internal", body: `{"connectionId":"acme","event":"invoice.paid"}`, status: 200},
		{op: "POST /webhook/{environmentId}/{providerConfigKey}", path: "/webhook/{unknown}/internal", body: `{}`, status: 404, code: "unknown_environment"},
		{op: "POST /webhook/{environmentId}/{providerConfigKey}", path: "/webhook/{env}/nope", body: `{}`, status: 404, code: "unknown_provider_config"},
		{op: "POST /webhook/{environmentId}/{providerConfigKey}", path: "/webhook/not-a-uuid/internal", body: `{}`, status: 400, code: "invalid_uri_params"},
		{op: "GET /events", path: "/events?type=forward", key: "env", status: 200, save: map[string]string{"inbound": "/data/0/id"}},
		{op: "GET /events/{id}", path: "/events/{inbound}", key: "env", status: 200},

		{op: "DELETE /connections/{providerConfigKey}/{connectionId}", path: "/connections/internal/acme", key: "env", status: 204},
		{op: "DELETE /integrations/{providerConfigKey}", path: "/integrations/internal", key: "env", status: 204},
		{op: "DELETE /integrations/{providerConfigKey}", path: "/integrations/internal", key: "env", status: 404, code: "unknown_provider_config"},
		{method: "DELETE", path: "/events", key: "env", status: 405, code: "method_not_allowed"},
		{op: "DELETE /admin/environments/{id}", path: "/admin/environments/{env}", key: "admin", status: 204},
		{op: "DELETE /admin/environments/{id}", path: "/admin/environments/{env}", key: "admin", status: 404, code: "not_found"},
		{op: "GET /environment", path: "/environment", key: "env", status: 401, code: "unauthorized"},
	}

	fill := func(s string) string {
		for name, v := range vars {
			s = strings.ReplaceAll(s, "{"+name+"}", v)
		}
		return s
	}
	answered := map[string]bool{}
	for i, st := range steps {
		method, _, _ := strings.Cut(st.op, " ")
		if st.op == "" {
			method = st.method
		}
		path, body := fill(st.path), fill(st.body)
		name := strconv.Itoa(i) + " " + method + " " + path
		if st.before != nil {
			st.before(t)
		}
		key := map[string]string{"admin": adminKey, "env": vars["key"]}[st.key]
		r := rawCall(t, f.url, method, path, key, body, st.header...)
		if r.status != st.status {
			t.Fatalf("%s: status %d, want %d; body %s", name, r.status, st.status, r.body)
		}
		if st.code != "" {
			var e envelope
			json.Unmarshal(r.body, &e)
			if e.Error.Code != st.code {
				t.Errorf("%s: code %q, want %q", name, e.Error.Code, st.code)
			}
		}
		checkDocumented(t, d, name, st.op, body, r)
		if r.status < 400 {
			answered[st.op] = true
		}
		for v, ptr := range st.save {
			vars[v] = jsonString(t, r.body, ptr)
		}
		if st.op == "GET /openapi.yaml" && !bytes.Equal(r.body, docs.OpenAPI) {
			t.Errorf("%s: the answer is not docs/openapi.yaml", name)
		}
	}
	for _, o := range d.Operations() {
		if !answered[o.String()] {
			t.Errorf("no step of this test answered %s with a success: add one", o)
		}
	}
}

// checkDocumented checks that answer r to a request of operation op (with
// body) is one that docs/openapi.yaml describes. op "" is a request
// outside every operation: its answer is the error envelope.
func checkDocumented(t *testing.T, d *openapitest.Doc, name, op, body string, r response) {
	t.Helper()
	if op == "" {
		if err := d.ValidateJSON("#/components/schemas/Error", r.body); err != nil {
			t.Errorf("%s: not the documented error envelope: %v", name, err)
		}
		return
	}
	method, path, _ := strings.Cut(op, " ")
	o, ok := d.Operation(method, path)
	if !ok {
		t.Fatalf("%s: the document has no operation %s", name, op)
	}
	resp, ok, err := d.Response(o, r.status)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Errorf("%s: answered %d, which the document does not list for %s; body %s", name, r.status, op, r.body)
		return
	}
	for _, h := range resp.Headers() {
		if r.header.Get(h) == "" {
			t.Errorf("%s: no %s header, which the document promises", name, h)
		}
	}
	mediaTypes := resp.MediaTypes()
	switch mt := openapitest.MediaType(r.header); {
	case len(mediaTypes) == 0:
		if len(r.body) > 0 {
			t.Errorf("%s: a %s body, where the document describes none", name, mt)
		}
	case !slices.Contains(mediaTypes, mt):
		t.Errorf("%s: Content-Type %q, the document has %q", name, r.header.Get("Content-Type"), mediaTypes)
	case mt == "application/json":
		ptr, ok := resp.SchemaPtr(mt)
		if !ok {
			t.Errorf("%s: %s has no schema", name, resp.Ptr)
			break
		}
		if err := d.ValidateJSON(ptr, r.body); err != nil {
			t.Errorf("%s: the answer does not match %s:\n%v\nbody %s", name, ptr, err, r.body)
		}
	}
	ptr, ok := d.RequestSchemaPtr(o)
	if !ok || body == "" {
		return
	}
	err = d.ValidateJSON(ptr, []byte(body))
	var e envelope
	json.Unmarshal(r.body, &e)
	switch {
	case r.status < 300 && err != nil:
		t.Errorf("%s: herald accepted the body %s, which does not match the documented request schema:\n%v", name, body, err)
	case e.Error.Code == api.CodeInvalidBody && err == nil:
		t.Errorf("%s: herald refused the body %s (%s), which matches the documented request schema", name, body, e.Error.Message)
	}
}

// rawCall sends one request to the API at base without following
// redirects; key is the bearer key ("" for none) and hdr extra header
// name/value pairs.
func rawCall(t *testing.T, base, method, path, key, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// jsonString returns the string at a JSON pointer ("/data/0/id") of a
// JSON body.
func jsonString(t *testing.T, body []byte, ptr string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		switch node := v.(type) {
		case map[string]any:
			v = node[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i >= len(node) {
				t.Fatalf("%s: no %s", body, ptr)
			}
			v = node[i]
		}
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s: %s is not a string", body, ptr)
	}
	return s
}

// TestOpenAPISecurity checks each operation's security requirement
// against the server: an operation that requires a key answers 401
// without one, or with the other kind of key, as its documented 401; a
// public one (security: []) never asks for a key.
func TestOpenAPISecurity(t *testing.T) {
	d := openAPIDoc(t)
	f := newFixture(t, options{mount: mountHandlers()})
	env := f.newEnv(t, "security", nil)
	global, _ := d.Root["security"].([]any)
	for _, o := range d.Operations() {
		t.Run(o.String(), func(t *testing.T) {
			params, err := d.Parameters(o)
			if err != nil {
				t.Fatal(err)
			}
			path := o.Path
			for _, p := range params {
				if p.In != "path" {
					continue
				}
				ex, ok := p.Object["example"].(string)
				if !ok {
					t.Fatalf("path parameter %s has no example", p.Name)
				}
				path = strings.ReplaceAll(path, "{"+p.Name+"}", ex)
			}
			security, ok := o.Op["security"].([]any)
			if !ok {
				security = global
			}
			schemes := map[string]bool{}
			for _, req := range security {
				for name := range req.(map[string]any) {
					schemes[name] = true
				}
			}
			r := rawCall(t, f.url, o.Method, path, "", "")
			if len(schemes) == 0 {
				if r.status == http.StatusUnauthorized {
					t.Errorf("public, but answered 401 without a key: %s", r.body)
				}
				return
			}
			wrong := map[string]string{"secretKey": adminKey, "adminKey": env.SecretKey}
			for _, key := range []string{"", wrong[slices.Sorted(maps.Keys(schemes))[0]]} {
				r := rawCall(t, f.url, o.Method, path, key, "")
				if r.status != http.StatusUnauthorized {
					t.Errorf("with key %q: status %d, want 401; body %s", key, r.status, r.body)
					continue
				}
				checkDocumented(t, d, o.String(), o.String(), "", r)
			}
		})
	}
}
