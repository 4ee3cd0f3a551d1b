package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func registryTests() []test {
	return []test{
		{"IntegrationPutAndGet", testIntegrationPutAndGet},
		{"IntegrationList", testIntegrationList},
		{"IntegrationDeleteRemovesConnections", testIntegrationDelete},
		{"ConnectionPutAndGet", testConnectionPutAndGet},
		{"ConnectionList", testConnectionList},
		{"ConnectionDelete", testConnectionDelete},
		{"MatchConnections", testMatchConnections},
		{"MatchConnectionsFollowsWrites", testMatchConnectionsFollowsWrites},
		{"ConcurrentPuts", testConnectionConcurrentPuts},
		{"UnstorableText", testRegistryUnstorableText},
		{"URLOverrides", testURLOverrides},
		{"HasURLOverrides", testHasURLOverrides},
		{"UnknownEnvironment", testRegistryUnknownEnvironment},
		{"EnvironmentDeleteRemovesRegistry", testRegistryEnvironmentDelete},
	}
}

func putIntegration(t testing.TB, s herald.Store, in *herald.Integration) bool {
	t.Helper()
	created, err := s.PutIntegration(t.Context(), in)
	if err != nil {
		t.Fatalf("PutIntegration(%s/%s): %v", in.EnvironmentID, in.ProviderConfigKey, err)
	}
	return created
}

func putConnection(t testing.TB, s herald.Store, c *herald.Connection) bool {
	t.Helper()
	created, err := s.PutConnection(t.Context(), c)
	if err != nil {
		t.Fatalf("PutConnection(%s/%s/%s): %v", c.EnvironmentID, c.ProviderConfigKey, c.ConnectionID, err)
	}
	return created
}

func makeIntegration(envID, key string) *herald.Integration {
	return &herald.Integration{EnvironmentID: envID, ProviderConfigKey: key, Provider: "unauthenticated",
		CreatedAt: t0, UpdatedAt: t0}
}

// makeConnection builds a connection of envID; config and metadata are
// JSON objects ("" leaves them nil).
func makeConnection(envID, pck, id, config, metadata string) *herald.Connection {
	c := &herald.Connection{EnvironmentID: envID, ProviderConfigKey: pck, ConnectionID: id, CreatedAt: t0, UpdatedAt: t0}
	if config != "" {
		c.ConnectionConfig = []byte(config)
	}
	if metadata != "" {
		c.Metadata = []byte(metadata)
	}
	return c
}

func withOverride(c *herald.Connection, url string) *herald.Connection {
	c.WebhookURLOverride = url
	return c
}

func checkIntegration(t testing.TB, got *herald.Integration, want herald.Integration) {
	t.Helper()
	var diffs []string
	eq := func(field string, g, w any) {
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", field, g, w))
		}
	}
	eq("EnvironmentID", got.EnvironmentID, want.EnvironmentID)
	eq("ProviderConfigKey", got.ProviderConfigKey, want.ProviderConfigKey)
	eq("Provider", got.Provider, want.Provider)
	eq("ForwardWebhooks", got.ForwardWebhooks, want.ForwardWebhooks)
	eq("ClientID", got.ClientID, want.ClientID)
	eq("ClientSecret", got.ClientSecret, want.ClientSecret)
	eq("WebhookSecret", got.WebhookSecret, want.WebhookSecret)
	eq("RequireSignature", fmtPtr(got.RequireSignature), fmtPtr(want.RequireSignature))
	eq("MaxBodyBytes", got.MaxBodyBytes, want.MaxBodyBytes)
	eq("RateLimitPerS", got.RateLimitPerS, want.RateLimitPerS)
	if !sameMS(got.CreatedAt, want.CreatedAt) {
		diffs = append(diffs, fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt))
	}
	if !sameMS(got.UpdatedAt, want.UpdatedAt) {
		diffs = append(diffs, fmt.Sprintf("UpdatedAt = %v, want %v", got.UpdatedAt, want.UpdatedAt))
	}
	if len(diffs) > 0 {
		t.Errorf("integration %s:\n\t%s", want.ProviderConfigKey, strings.Join(diffs, "\n\t"))
	}
}

// jsonOrEmpty is how a connection's JSON column reads back: nil is {}.
func jsonOrEmpty(b []byte) string {
	if b == nil {
		return "{}"
	}
	return string(b)
}

func checkConnection(t testing.TB, got *herald.Connection, want herald.Connection) {
	t.Helper()
	var diffs []string
	eq := func(field string, g, w any) {
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", field, g, w))
		}
	}
	eq("EnvironmentID", got.EnvironmentID, want.EnvironmentID)
	eq("ProviderConfigKey", got.ProviderConfigKey, want.ProviderConfigKey)
	eq("ConnectionID", got.ConnectionID, want.ConnectionID)
	eq("ConnectionConfig", string(got.ConnectionConfig), jsonOrEmpty(want.ConnectionConfig))
	eq("Metadata", string(got.Metadata), jsonOrEmpty(want.Metadata))
	eq("Tags", string(got.Tags), jsonOrEmpty(want.Tags))
	eq("WebhookURLOverride", got.WebhookURLOverride, want.WebhookURLOverride)
	if !sameMS(got.CreatedAt, want.CreatedAt) {
		diffs = append(diffs, fmt.Sprintf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt))
	}
	if !sameMS(got.UpdatedAt, want.UpdatedAt) {
		diffs = append(diffs, fmt.Sprintf("UpdatedAt = %v, want %v", got.UpdatedAt, want.UpdatedAt))
	}
	if len(diffs) > 0 {
		t.Errorf("connection %s/%s:\n\t%s", want.ProviderConfigKey, want.ConnectionID, strings.Join(diffs, "\n\t"))
	}
}

func integrationKeys(ins []herald.Integration) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.ProviderConfigKey
	}
	return out
}

// connRefs names connections as "providerConfigKey/connectionId".
func connRefs(cs []herald.Connection) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ProviderConfigKey + "/" + c.ConnectionID
	}
	return out
}

func listIntegrations(t testing.TB, s herald.Store, envID string, page herald.Page) []herald.Integration {
	t.Helper()
	ins, err := s.ListIntegrations(t.Context(), envID, page)
	if err != nil {
		t.Fatalf("ListIntegrations(%+v): %v", page, err)
	}
	return ins
}

func listConnections(t testing.TB, s herald.Store, envID, pck string, page herald.Page) []herald.Connection {
	t.Helper()
	cs, err := s.ListConnections(t.Context(), envID, pck, page)
	if err != nil {
		t.Fatalf("ListConnections(%q, %+v): %v", pck, page, err)
	}
	return cs
}

func matchConns(t testing.TB, s herald.Store, envID, pck string, keys []herald.ConnectionKey, ids ...string) []herald.Connection {
	t.Helper()
	cs, err := s.MatchConnections(t.Context(), envID, pck, keys, ids)
	if err != nil {
		t.Fatalf("MatchConnections(%s, %v, %v): %v", pck, keys, ids, err)
	}
	return cs
}

func cfgKey(name, value string) herald.ConnectionKey {
	return herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: name, Value: value}
}

func metaKey(name, value string) herald.ConnectionKey {
	return herald.ConnectionKey{Field: herald.FieldMetadata, Name: name, Value: value}
}

// walkIntegrations lists every page of limit and returns the keys, in order.
func walkIntegrations(t testing.TB, s herald.Store, envID string, limit int) []string {
	t.Helper()
	var got []string
	page := herald.Page{Limit: limit}
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("paging does not end")
		}
		ins := listIntegrations(t, s, envID, page)
		if len(ins) > limit {
			t.Fatalf("page of %d with limit %d", len(ins), limit)
		}
		got = append(got, integrationKeys(ins)...)
		if len(ins) < limit {
			return got
		}
		page.Cursor = ins[len(ins)-1].ProviderConfigKey
	}
}

// walkConnections lists every page of limit and returns the refs, in order.
func walkConnections(t testing.TB, s herald.Store, envID, pck string, limit int) []string {
	t.Helper()
	var got []string
	page := herald.Page{Limit: limit}
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("paging does not end")
		}
		cs := listConnections(t, s, envID, pck, page)
		if len(cs) > limit {
			t.Fatalf("page of %d with limit %d", len(cs), limit)
		}
		got = append(got, connRefs(cs)...)
		if len(cs) < limit {
			return got
		}
		page.Cursor = herald.ConnectionCursor(&cs[len(cs)-1])
	}
}

func testIntegrationPutAndGet(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")

	in := &herald.Integration{EnvironmentID: env.ID, ProviderConfigKey: "github", Provider: "github-app",
		ForwardWebhooks: true, ClientID: "client-id", ClientSecret: "client-secret", WebhookSecret: "whsec",
		RequireSignature: ptr(false), MaxBodyBytes: 2 << 20, RateLimitPerS: 50, CreatedAt: t0, UpdatedAt: t0}
	if !putIntegration(t, s, in) {
		t.Error("PutIntegration of a new integration: created = false")
	}
	got, err := s.Integration(ctx, env.ID, "github")
	if err != nil {
		t.Fatalf("Integration: %v", err)
	}
	checkIntegration(t, got, *in)

	// A re-put replaces every field but created_at, which comes back into
	// the struct; nil RequireSignature is stored as unset.
	re := &herald.Integration{EnvironmentID: env.ID, ProviderConfigKey: "github", Provider: "unauthenticated",
		CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	if putIntegration(t, s, re) {
		t.Error("PutIntegration of an existing integration: created = true")
	}
	if !sameMS(re.CreatedAt, t0) {
		t.Errorf("after a re-put CreatedAt = %v, want the stored %v", re.CreatedAt, t0)
	}
	want := *re
	want.CreatedAt = t0
	got, err = s.Integration(ctx, env.ID, "github")
	if err != nil {
		t.Fatalf("Integration: %v", err)
	}
	checkIntegration(t, got, want)

	re.RequireSignature, re.UpdatedAt = ptr(true), at(2*time.Hour)
	putIntegration(t, s, re)
	want.RequireSignature, want.UpdatedAt = ptr(true), at(2*time.Hour)
	got, err = s.Integration(ctx, env.ID, "github")
	if err != nil {
		t.Fatalf("Integration: %v", err)
	}
	checkIntegration(t, got, want)

	// The same key in another environment is another integration.
	mine := makeIntegration(other.ID, "github")
	mine.Provider = "github"
	if !putIntegration(t, s, mine) {
		t.Error("PutIntegration of another environment's key: created = false")
	}
	got, err = s.Integration(ctx, env.ID, "github")
	if err != nil {
		t.Fatalf("Integration: %v", err)
	}
	checkIntegration(t, got, want)
	if got, err := s.Integration(ctx, other.ID, "github"); err != nil || got.Provider != "github" {
		t.Errorf("Integration(other) = %+v, %v", got, err)
	}

	_, err = s.Integration(ctx, env.ID, "slack")
	wantNotFound(t, "Integration(unknown key)", err)
	_, err = s.Integration(ctx, newID(t), "github")
	wantNotFound(t, "Integration(unknown environment)", err)
}

func testIntegrationList(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")
	if ins := listIntegrations(t, s, env.ID, herald.Page{Limit: 200}); ins == nil || len(ins) != 0 {
		t.Errorf("ListIntegrations of an empty environment = %#v, want an empty list", ins)
	}
	// Put out of order; the list is by key, byte-wise ("Zendesk" < "github").
	for _, key := range []string{"slack", "github", "Zendesk"} {
		putIntegration(t, s, makeIntegration(env.ID, key))
	}
	for _, key := range []string{"asana", "hubspot"} {
		putIntegration(t, s, makeIntegration(other.ID, key))
	}
	all := []string{"Zendesk", "github", "slack"}

	first := listIntegrations(t, s, env.ID, herald.Page{Limit: 2})
	if got := integrationKeys(first); !slices.Equal(got, all[:2]) {
		t.Fatalf("first page = %v, want %v", got, all[:2])
	}
	checkIntegration(t, &first[0], *makeIntegration(env.ID, "Zendesk"))
	second := listIntegrations(t, s, env.ID, herald.Page{Limit: 2, Cursor: first[1].ProviderConfigKey})
	if got := integrationKeys(second); !slices.Equal(got, all[2:]) {
		t.Fatalf("second page = %v, want %v", got, all[2:])
	}
	if got := listIntegrations(t, s, env.ID, herald.Page{Limit: 2, Cursor: "slack"}); len(got) != 0 {
		t.Errorf("page after the last = %v", integrationKeys(got))
	}
	for _, limit := range []int{1, 2, 3, 200} {
		if got := walkIntegrations(t, s, env.ID, limit); !slices.Equal(got, all) {
			t.Errorf("pages of %d = %v, want %v", limit, got, all)
		}
	}
	// A cursor need not be a stored key.
	if got := integrationKeys(listIntegrations(t, s, env.ID, herald.Page{Limit: 200, Cursor: "h"})); !slices.Equal(got, []string{"slack"}) {
		t.Errorf("after cursor h = %v, want [slack]", got)
	}
	if got := integrationKeys(listIntegrations(t, s, other.ID, herald.Page{Limit: 200})); !slices.Equal(got, []string{"asana", "hubspot"}) {
		t.Errorf("other environment lists %v", got)
	}
	if got := listIntegrations(t, s, newID(t), herald.Page{Limit: 200}); len(got) != 0 {
		t.Errorf("unknown environment lists %v", integrationKeys(got))
	}
}

func testIntegrationDelete(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")
	for _, e := range []string{env.ID, other.ID} {
		putIntegration(t, s, makeIntegration(e, "github"))
		putConnection(t, s, withOverride(makeConnection(e, "github", "conn-1", `{"instance":"acme"}`, ""), "https://override.example.com/"))
		putConnection(t, s, makeConnection(e, "github", "conn-2", `{"instance":"acme"}`, ""))
	}
	putIntegration(t, s, makeIntegration(env.ID, "slack"))
	putConnection(t, s, makeConnection(env.ID, "slack", "conn-1", `{"instance":"acme"}`, ""))

	if err := s.DeleteIntegration(ctx, env.ID, "github"); err != nil {
		t.Fatalf("DeleteIntegration: %v", err)
	}
	_, err := s.Integration(ctx, env.ID, "github")
	wantNotFound(t, "Integration(deleted)", err)
	for _, id := range []string{"conn-1", "conn-2"} {
		_, err := s.Connection(ctx, env.ID, "github", id)
		wantNotFound(t, "Connection of a deleted integration", err)
	}
	if got := connRefs(listConnections(t, s, env.ID, "", herald.Page{Limit: 200})); !slices.Equal(got, []string{"slack/conn-1"}) {
		t.Errorf("connections after the integration was deleted: %v, want [slack/conn-1]", got)
	}
	if got := matchConns(t, s, env.ID, "github", []herald.ConnectionKey{cfgKey("instance", "acme")}, "conn-1", "conn-2"); len(got) != 0 {
		t.Errorf("connections of a deleted integration still match: %v", connRefs(got))
	}
	if got, err := s.URLOverrides(ctx, env.ID, []herald.ConnectionRef{{ProviderConfigKey: "github", ConnectionID: "conn-1"}}); err != nil || len(got) != 0 {
		t.Errorf("URLOverrides of a deleted integration's connection = %v, %v", got, err)
	}
	if e, err := s.EnvironmentByID(ctx, env.ID); err != nil || e.HasURLOverrides {
		t.Errorf("HasURLOverrides after the only override's integration was deleted = %v, %v; want false", e.HasURLOverrides, err)
	}
	// The other integration and the other environment are untouched.
	if got := connRefs(matchConns(t, s, env.ID, "slack", []herald.ConnectionKey{cfgKey("instance", "acme")})); !slices.Equal(got, []string{"slack/conn-1"}) {
		t.Errorf("slack matches %v after github was deleted", got)
	}
	if got := connRefs(matchConns(t, s, other.ID, "github", []herald.ConnectionKey{cfgKey("instance", "acme")})); !slices.Equal(got, []string{"github/conn-1", "github/conn-2"}) {
		t.Errorf("another environment's github matches %v after this one's was deleted", got)
	}
	if e, err := s.EnvironmentByID(ctx, other.ID); err != nil || !e.HasURLOverrides {
		t.Errorf("other environment's HasURLOverrides = %v, %v; want true", e.HasURLOverrides, err)
	}

	wantNotFound(t, "DeleteIntegration(twice)", s.DeleteIntegration(ctx, env.ID, "github"))
	wantNotFound(t, "DeleteIntegration(unknown)", s.DeleteIntegration(ctx, env.ID, "nope"))
	wantNotFound(t, "DeleteIntegration(another environment's)", s.DeleteIntegration(ctx, other.ID, "slack"))
	if _, err := s.Integration(ctx, env.ID, "slack"); err != nil {
		t.Errorf("slack after another environment tried to delete it: %v", err)
	}

	// Created again, the integration starts without connections.
	putIntegration(t, s, makeIntegration(env.ID, "github"))
	if got := listConnections(t, s, env.ID, "github", herald.Page{Limit: 200}); len(got) != 0 {
		t.Errorf("re-created integration has connections %v", connRefs(got))
	}
}

func testConnectionPutAndGet(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")

	c := makeConnection(env.ID, "github", "conn-1", `{"instance":"acme","portalId":123}`, `{"team":{"id":"T1"}}`)
	c.Tags = []byte(`{"plan":"pro"}`)
	if !putConnection(t, s, c) {
		t.Error("PutConnection of a new connection: created = false")
	}
	got, err := s.Connection(ctx, env.ID, "github", "conn-1")
	if err != nil {
		t.Fatalf("Connection: %v", err)
	}
	checkConnection(t, got, *c)

	re := makeConnection(env.ID, "github", "conn-1", `{"instance":"other"}`, `{}`)
	re.Tags = []byte(`{"plan":"free"}`)
	re.WebhookURLOverride = "https://override.example.com/hooks"
	re.CreatedAt, re.UpdatedAt = at(time.Hour), at(time.Hour)
	if putConnection(t, s, re) {
		t.Error("PutConnection of an existing connection: created = true")
	}
	if !sameMS(re.CreatedAt, t0) {
		t.Errorf("after a re-put CreatedAt = %v, want the stored %v", re.CreatedAt, t0)
	}
	want := *re
	want.CreatedAt = t0
	got, err = s.Connection(ctx, env.ID, "github", "conn-1")
	if err != nil {
		t.Fatalf("Connection: %v", err)
	}
	checkConnection(t, got, want)

	// Absent JSON objects are stored as {}.
	bare := makeConnection(env.ID, "github", "conn-2", "", "")
	putConnection(t, s, bare)
	got, err = s.Connection(ctx, env.ID, "github", "conn-2")
	if err != nil {
		t.Fatalf("Connection: %v", err)
	}
	checkConnection(t, got, *bare)

	// The same ids under another integration, or in another environment,
	// are other connections.
	for _, c := range []*herald.Connection{makeConnection(env.ID, "slack", "conn-1", "", ""), makeConnection(other.ID, "github", "conn-1", "", "")} {
		if !putConnection(t, s, c) {
			t.Errorf("PutConnection(%s/%s): created = false", c.ProviderConfigKey, c.ConnectionID)
		}
	}
	got, err = s.Connection(ctx, env.ID, "github", "conn-1")
	if err != nil {
		t.Fatalf("Connection: %v", err)
	}
	checkConnection(t, got, want)

	_, err = s.Connection(ctx, env.ID, "github", "nope")
	wantNotFound(t, "Connection(unknown id)", err)
	_, err = s.Connection(ctx, env.ID, "hubspot", "conn-1")
	wantNotFound(t, "Connection(unknown integration)", err)
	_, err = s.Connection(ctx, newID(t), "github", "conn-1")
	wantNotFound(t, "Connection(unknown environment)", err)
	_, err = s.Connection(ctx, other.ID, "github", "conn-2")
	wantNotFound(t, "Connection(another environment's)", err)
}

func testConnectionList(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")
	if cs := listConnections(t, s, env.ID, "", herald.Page{Limit: 200}); cs == nil || len(cs) != 0 {
		t.Errorf("ListConnections of an empty environment = %#v, want an empty list", cs)
	}
	// Put out of order; the list is by (key, id), byte-wise.
	for _, ref := range [][2]string{{"slack", "c-a"}, {"github", "c-b"}, {"github", "C-up"}, {"github", "c-a"}, {"Asana", "z"}} {
		putConnection(t, s, makeConnection(env.ID, ref[0], ref[1], "", ""))
	}
	putConnection(t, s, makeConnection(other.ID, "github", "c-0", "", ""))
	all := []string{"Asana/z", "github/C-up", "github/c-a", "github/c-b", "slack/c-a"}

	first := listConnections(t, s, env.ID, "", herald.Page{Limit: 2})
	if got := connRefs(first); !slices.Equal(got, all[:2]) {
		t.Fatalf("first page = %v, want %v", got, all[:2])
	}
	checkConnection(t, &first[0], *makeConnection(env.ID, "Asana", "z", "", ""))
	second := listConnections(t, s, env.ID, "", herald.Page{Limit: 2, Cursor: herald.ConnectionCursor(&first[1])})
	if got := connRefs(second); !slices.Equal(got, all[2:4]) {
		t.Fatalf("second page = %v, want %v", got, all[2:4])
	}
	for _, limit := range []int{1, 2, 3, 200} {
		if got := walkConnections(t, s, env.ID, "", limit); !slices.Equal(got, all) {
			t.Errorf("pages of %d = %v, want %v", limit, got, all)
		}
	}
	github := all[1:4]
	for _, limit := range []int{1, 2, 200} {
		if got := walkConnections(t, s, env.ID, "github", limit); !slices.Equal(got, github) {
			t.Errorf("github, pages of %d = %v, want %v", limit, got, github)
		}
	}
	page := listConnections(t, s, env.ID, "github", herald.Page{Limit: 2})
	if got := connRefs(listConnections(t, s, env.ID, "github", herald.Page{Limit: 2, Cursor: herald.ConnectionCursor(&page[1])})); !slices.Equal(got, github[2:]) {
		t.Errorf("github, second page = %v, want %v", got, github[2:])
	}
	if got := listConnections(t, s, env.ID, "hubspot", herald.Page{Limit: 200}); len(got) != 0 {
		t.Errorf("unknown integration lists %v", connRefs(got))
	}
	if got := connRefs(listConnections(t, s, other.ID, "", herald.Page{Limit: 200})); !slices.Equal(got, []string{"github/c-0"}) {
		t.Errorf("other environment lists %v", got)
	}
	if got := listConnections(t, s, newID(t), "", herald.Page{Limit: 200}); len(got) != 0 {
		t.Errorf("unknown environment lists %v", connRefs(got))
	}
}

func testConnectionDelete(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")
	putConnection(t, s, makeConnection(env.ID, "github", "conn-1", `{"instance":"acme"}`, ""))
	putConnection(t, s, makeConnection(env.ID, "github", "conn-2", `{"instance":"acme"}`, ""))
	putConnection(t, s, makeConnection(other.ID, "github", "conn-1", `{"instance":"acme"}`, ""))

	wantNotFound(t, "DeleteConnection(another environment's)", s.DeleteConnection(ctx, other.ID, "github", "conn-2"))
	if err := s.DeleteConnection(ctx, env.ID, "github", "conn-1"); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	_, err := s.Connection(ctx, env.ID, "github", "conn-1")
	wantNotFound(t, "Connection(deleted)", err)
	wantNotFound(t, "DeleteConnection(twice)", s.DeleteConnection(ctx, env.ID, "github", "conn-1"))
	wantNotFound(t, "DeleteConnection(unknown integration)", s.DeleteConnection(ctx, env.ID, "slack", "conn-2"))
	if got := connRefs(matchConns(t, s, env.ID, "github", []herald.ConnectionKey{cfgKey("instance", "acme")}, "conn-1")); !slices.Equal(got, []string{"github/conn-2"}) {
		t.Errorf("after deleting conn-1 the key matches %v, want [github/conn-2]", got)
	}
	if _, err := s.Connection(ctx, other.ID, "github", "conn-1"); err != nil {
		t.Errorf("another environment's connection of the same id: %v", err)
	}
	// Put again, it is new.
	if !putConnection(t, s, makeConnection(env.ID, "github", "conn-1", "", "")) {
		t.Error("PutConnection after delete: created = false")
	}
}

func testMatchConnections(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")
	one := makeConnection(env.ID, "github", "conn-1", `{"instance":"acme","portalId":123}`,
		`{"emails":["a@example.com","b@example.com"],"team":{"id":"T1"}}`)
	two := makeConnection(env.ID, "github", "conn-2", `{"team.id":"T1"}`, `{"emails":["b@example.com"]}`)
	three := makeConnection(env.ID, "github", "conn-3", `{"instance":"other"}`, "")
	for _, c := range []*herald.Connection{one, two, three,
		makeConnection(env.ID, "slack", "conn-4", `{"instance":"acme"}`, ""),
		makeConnection(other.ID, "github", "conn-9", `{"instance":"acme"}`, `{"team":{"id":"T1"}}`)} {
		putConnection(t, s, c)
	}
	cases := []struct {
		name string
		keys []herald.ConnectionKey
		ids  []string
		want []string
	}{
		{"connection_config key", []herald.ConnectionKey{cfgKey("instance", "acme")}, nil, []string{"conn-1"}},
		{"number as text", []herald.ConnectionKey{cfgKey("portalId", "123")}, nil, []string{"conn-1"}},
		{"metadata array element", []herald.ConnectionKey{metaKey("emails", "a@example.com")}, nil, []string{"conn-1"}},
		{"array element of two", []herald.ConnectionKey{metaKey("emails", "b@example.com")}, nil, []string{"conn-1", "conn-2"}},
		{"nested path", []herald.ConnectionKey{metaKey("team.id", "T1")}, nil, []string{"conn-1"}},
		{"literal dotted key", []herald.ConnectionKey{cfgKey("team.id", "T1")}, nil, []string{"conn-2"}},
		{"field matters", []herald.ConnectionKey{metaKey("instance", "acme")}, nil, nil},
		{"ids", nil, []string{"conn-3", "conn-1"}, []string{"conn-1", "conn-3"}},
		{"unknown id", nil, []string{"conn-3", "nope"}, []string{"conn-3"}},
		{"keys and ids, deduplicated", []herald.ConnectionKey{cfgKey("instance", "acme")}, []string{"conn-3", "conn-1"},
			[]string{"conn-1", "conn-3"}},
		{"several keys of one connection", []herald.ConnectionKey{cfgKey("instance", "acme"), metaKey("team.id", "T1"),
			metaKey("emails", "a@example.com"), cfgKey("portalId", "123")}, nil, []string{"conn-1"}},
		{"a key twice", []herald.ConnectionKey{cfgKey("instance", "other"), cfgKey("instance", "other")}, []string{"conn-3"},
			[]string{"conn-3"}},
		{"no match", []herald.ConnectionKey{cfgKey("instance", "nope")}, []string{"nope"}, nil},
		{"nothing asked", nil, nil, nil},
		{"empty lists", []herald.ConnectionKey{}, []string{}, nil},
		{"another integration's id", nil, []string{"conn-4"}, nil},
		{"another environment's id", nil, []string{"conn-9"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := matchConns(t, s, env.ID, "github", c.keys, c.ids...)
			var want []string
			for _, id := range c.want {
				want = append(want, "github/"+id)
			}
			if g := connRefs(got); !slices.Equal(g, want) {
				t.Errorf("MatchConnections = %v, want %v", g, want)
			}
		})
	}
	// Matches are whole connections.
	got := matchConns(t, s, env.ID, "github", []herald.ConnectionKey{cfgKey("portalId", "123")})
	if len(got) == 1 {
		checkConnection(t, &got[0], *one)
	}
	// Another integration, and another environment, match their own.
	if got := connRefs(matchConns(t, s, env.ID, "slack", []herald.ConnectionKey{cfgKey("instance", "acme")})); !slices.Equal(got, []string{"slack/conn-4"}) {
		t.Errorf("slack matches %v", got)
	}
	if got := connRefs(matchConns(t, s, other.ID, "github", []herald.ConnectionKey{cfgKey("instance", "acme"), metaKey("team.id", "T1")}, "conn-1")); !slices.Equal(got, []string{"github/conn-9"}) {
		t.Errorf("other environment matches %v", got)
	}
	if got := matchConns(t, s, newID(t), "github", []herald.ConnectionKey{cfgKey("instance", "acme")}, "conn-1"); len(got) != 0 {
		t.Errorf("unknown environment matches %v", connRefs(got))
	}
}

// A re-put connection is found by its new keys only; a deleted one by none.
func testMatchConnectionsFollowsWrites(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	putConnection(t, s, makeConnection(env.ID, "github", "conn-1", `{"instance":"acme"}`, `{"team":{"id":"T1"}}`))
	putConnection(t, s, makeConnection(env.ID, "github", "conn-2", `{"instance":"acme"}`, ""))
	putConnection(t, s, makeConnection(env.ID, "github", "conn-1", `{"instance":"renamed"}`, ""))
	for _, c := range []struct {
		key  herald.ConnectionKey
		want []string
	}{
		{cfgKey("instance", "acme"), []string{"github/conn-2"}},
		{cfgKey("instance", "renamed"), []string{"github/conn-1"}},
		{metaKey("team.id", "T1"), nil},
	} {
		if got := connRefs(matchConns(t, s, env.ID, "github", []herald.ConnectionKey{c.key})); !slices.Equal(got, c.want) {
			t.Errorf("after a re-put %v matches %v, want %v", c.key, got, c.want)
		}
	}
	// A re-put with the same keys keeps them.
	putConnection(t, s, makeConnection(env.ID, "github", "conn-1", `{"instance":"renamed"}`, ""))
	if got := connRefs(matchConns(t, s, env.ID, "github", []herald.ConnectionKey{cfgKey("instance", "renamed")})); !slices.Equal(got, []string{"github/conn-1"}) {
		t.Errorf("after the same put twice: %v", got)
	}
	if err := s.DeleteConnection(t.Context(), env.ID, "github", "conn-2"); err != nil {
		t.Fatal(err)
	}
	if got := matchConns(t, s, env.ID, "github", []herald.ConnectionKey{cfgKey("instance", "acme")}, "conn-2"); len(got) != 0 {
		t.Errorf("a deleted connection matches: %v", connRefs(got))
	}
}

// Puts of one new connection racing: one creates it, the others replace
// it, and the keys stored are those of the connection stored.
func testConnectionConcurrentPuts(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	const n = 8
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			c := makeConnection(env.ID, "github", "conn-1", fmt.Sprintf(`{"instance":"i%d"}`, i), `{"shared":"yes"}`)
			created[i], errs[i] = s.PutConnection(t.Context(), c)
		})
	}
	close(start)
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("put %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d puts report created, want 1", creators)
	}
	got, err := s.Connection(t.Context(), env.ID, "github", "conn-1")
	if err != nil {
		t.Fatalf("Connection: %v", err)
	}
	for i := range n {
		instance := fmt.Sprintf("i%d", i)
		want := string(got.ConnectionConfig) == fmt.Sprintf(`{"instance":%q}`, instance)
		if found := len(matchConns(t, s, env.ID, "github", []herald.ConnectionKey{cfgKey("instance", instance)})) == 1; found != want {
			t.Errorf("stored %s; found by instance %s: %v", got.ConnectionConfig, instance, found)
		}
	}
	if got := connRefs(matchConns(t, s, env.ID, "github", []herald.ConnectionKey{metaKey("shared", "yes")})); !slices.Equal(got, []string{"github/conn-1"}) {
		t.Errorf("shared key matches %v", got)
	}
}

// Values no text column can hold (a NUL, invalid UTF-8) come from JSON
// values and provider requests: a connection with such a value is stored
// without that key, and lookups with them find nothing, on every store.
func testRegistryUnstorableText(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	c := makeConnection(env.ID, "github", "conn-1", `{"instance":"acme","nul":"a\u0000b"}`, `{"x\u0000y":"1"}`)
	putConnection(t, s, c)
	if got := connRefs(matchConns(t, s, env.ID, "github", []herald.ConnectionKey{cfgKey("instance", "acme")})); !slices.Equal(got, []string{"github/conn-1"}) {
		t.Errorf("the connection's other keys match %v", got)
	}
	got, err := s.MatchConnections(ctx, env.ID, "github", []herald.ConnectionKey{cfgKey("nul", "a\x00b"), metaKey("x\x00y", "1"),
		cfgKey("instance", "\xff")}, []string{"conn\x00", "\xfe"})
	if err != nil || len(got) != 0 {
		t.Errorf("MatchConnections with unstorable text = %v, %v; want nothing", connRefs(got), err)
	}
	// Beside storable ones, they do not get in the way.
	got, err = s.MatchConnections(ctx, env.ID, "github", []herald.ConnectionKey{cfgKey("nul", "a\x00b"), cfgKey("instance", "acme")},
		[]string{"conn\x00"})
	if err != nil || !slices.Equal(connRefs(got), []string{"github/conn-1"}) {
		t.Errorf("MatchConnections with storable and unstorable text = %v, %v", connRefs(got), err)
	}
	overrides, err := s.URLOverrides(ctx, env.ID, []herald.ConnectionRef{{ProviderConfigKey: "github", ConnectionID: "conn\x00"},
		{ProviderConfigKey: "\xff", ConnectionID: "conn-1"}})
	if err != nil || len(overrides) != 0 {
		t.Errorf("URLOverrides with unstorable text = %v, %v", overrides, err)
	}
}

func testURLOverrides(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")
	putConnection(t, s, withOverride(makeConnection(env.ID, "github", "conn-1", "", ""), "https://a.example.com/override"))
	putConnection(t, s, makeConnection(env.ID, "github", "conn-2", "", ""))
	putConnection(t, s, withOverride(makeConnection(env.ID, "slack", "conn-1", "", ""), "https://b.example.com/override"))
	putConnection(t, s, withOverride(makeConnection(other.ID, "github", "conn-2", "", ""), "https://other.example.com/"))
	ref := func(pck, id string) herald.ConnectionRef {
		return herald.ConnectionRef{ProviderConfigKey: pck, ConnectionID: id}
	}

	got, err := s.URLOverrides(ctx, env.ID, []herald.ConnectionRef{ref("github", "conn-1"), ref("github", "conn-2"),
		ref("slack", "conn-1"), ref("github", "nope"), ref("hubspot", "conn-1"), ref("github", "conn-1")})
	if err != nil {
		t.Fatalf("URLOverrides: %v", err)
	}
	want := map[herald.ConnectionRef]string{ref("github", "conn-1"): "https://a.example.com/override",
		ref("slack", "conn-1"): "https://b.example.com/override"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("URLOverrides = %v, want %v", got, want)
	}
	if got, err := s.URLOverrides(ctx, env.ID, nil); err != nil || len(got) != 0 {
		t.Errorf("URLOverrides(nothing) = %v, %v", got, err)
	}
	// Each environment sees its own.
	got, err = s.URLOverrides(ctx, other.ID, []herald.ConnectionRef{ref("github", "conn-1"), ref("github", "conn-2")})
	if err != nil || fmt.Sprint(got) != fmt.Sprint(map[herald.ConnectionRef]string{ref("github", "conn-2"): "https://other.example.com/"}) {
		t.Errorf("URLOverrides(other) = %v, %v", got, err)
	}
	// A cleared override is gone.
	putConnection(t, s, makeConnection(env.ID, "github", "conn-1", "", ""))
	got, err = s.URLOverrides(ctx, env.ID, []herald.ConnectionRef{ref("github", "conn-1"), ref("slack", "conn-1")})
	if err != nil || fmt.Sprint(got) != fmt.Sprint(map[herald.ConnectionRef]string{ref("slack", "conn-1"): "https://b.example.com/override"}) {
		t.Errorf("URLOverrides after clearing one = %v, %v", got, err)
	}
}

func testHasURLOverrides(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	// Another environment, whose connection has no override, stays false.
	other := newEnv(t, s, "dev")
	putConnection(t, s, makeConnection(other.ID, "github", "conn-1", "", ""))
	check := func(step string, want bool) {
		t.Helper()
		byID, err := s.EnvironmentByID(ctx, env.ID)
		if err != nil {
			t.Fatalf("%s: EnvironmentByID: %v", step, err)
		}
		byHash, err := s.EnvironmentByKeyHash(ctx, env.SecretKeyHash)
		if err != nil {
			t.Fatalf("%s: EnvironmentByKeyHash: %v", step, err)
		}
		envs, err := s.ListEnvironments(ctx)
		if err != nil || len(envs) != 2 {
			t.Fatalf("%s: ListEnvironments = %d, %v", step, len(envs), err)
		}
		for _, e := range []*herald.Environment{byID, byHash, &envs[0], &envs[1]} {
			w := want && e.ID == env.ID
			if e.HasURLOverrides != w {
				t.Errorf("%s: environment %s HasURLOverrides = %v, want %v", step, e.Name, e.HasURLOverrides, w)
			}
		}
	}
	check("new environment", false)
	putConnection(t, s, makeConnection(env.ID, "github", "conn-1", "", ""))
	check("a connection without override", false)
	putConnection(t, s, withOverride(makeConnection(env.ID, "github", "conn-2", "", ""), "https://a.example.com/"))
	check("a connection with override", true)
	putConnection(t, s, withOverride(makeConnection(env.ID, "slack", "conn-3", "", ""), "https://b.example.com/"))
	putConnection(t, s, makeConnection(env.ID, "github", "conn-2", "", ""))
	check("one of two overrides cleared", true)
	if err := s.DeleteConnection(ctx, env.ID, "slack", "conn-3"); err != nil {
		t.Fatal(err)
	}
	check("the last override deleted", false)
	putConnection(t, s, withOverride(makeConnection(env.ID, "github", "conn-1", "", ""), "https://c.example.com/"))
	check("an override set on a re-put", true)
	putConnection(t, s, makeConnection(env.ID, "github", "conn-1", "", ""))
	check("the override cleared on a re-put", false)
}

// Writes for an environment that does not exist (deleted meanwhile) fail
// and store nothing.
func testRegistryUnknownEnvironment(t *testing.T, s herald.Store) {
	ctx := t.Context()
	id := newID(t)
	if _, err := s.PutIntegration(ctx, makeIntegration(id, "github")); err == nil {
		t.Error("PutIntegration for an unknown environment succeeded")
	}
	if _, err := s.PutConnection(ctx, makeConnection(id, "github", "conn-1", `{"instance":"acme"}`, "")); err == nil {
		t.Error("PutConnection for an unknown environment succeeded")
	}
	_, err := s.Integration(ctx, id, "github")
	wantNotFound(t, "Integration of an unknown environment", err)
	_, err = s.Connection(ctx, id, "github", "conn-1")
	wantNotFound(t, "Connection of an unknown environment", err)
	if got := matchConns(t, s, id, "github", []herald.ConnectionKey{cfgKey("instance", "acme")}); len(got) != 0 {
		t.Errorf("unknown environment matches %v", connRefs(got))
	}
}

func testRegistryEnvironmentDelete(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	keys := []herald.ConnectionKey{cfgKey("instance", "acme")}
	for _, env := range []*herald.Environment{a, b} {
		putIntegration(t, s, makeIntegration(env.ID, "github"))
		putConnection(t, s, withOverride(makeConnection(env.ID, "github", "conn-1", `{"instance":"acme"}`, ""), "https://a.example.com/"))
		putConnection(t, s, makeConnection(env.ID, "github", "conn-2", `{"instance":"acme"}`, ""))
		ingest(t, s, env.ID, makeEvent(t, env.ID, spec{URLs: []string{urlA}}))
	}
	if err := s.DeleteEnvironment(ctx, a.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	// Re-created with the same id, the environment starts empty.
	again := makeEnv(t, "a", at(time.Minute))
	again.ID = a.ID
	if err := s.CreateEnvironment(ctx, again); err != nil {
		t.Fatalf("CreateEnvironment(same id): %v", err)
	}
	_, err := s.Integration(ctx, a.ID, "github")
	wantNotFound(t, "Integration of a deleted environment", err)
	_, err = s.Connection(ctx, a.ID, "github", "conn-1")
	wantNotFound(t, "Connection of a deleted environment", err)
	if got := listIntegrations(t, s, a.ID, herald.Page{Limit: 200}); len(got) != 0 {
		t.Errorf("re-created environment lists integrations %v", integrationKeys(got))
	}
	if got := listConnections(t, s, a.ID, "", herald.Page{Limit: 200}); len(got) != 0 {
		t.Errorf("re-created environment lists connections %v", connRefs(got))
	}
	if got := matchConns(t, s, a.ID, "github", keys, "conn-1"); len(got) != 0 {
		t.Errorf("re-created environment matches %v", connRefs(got))
	}
	if got, err := s.URLOverrides(ctx, a.ID, []herald.ConnectionRef{{ProviderConfigKey: "github", ConnectionID: "conn-1"}}); err != nil || len(got) != 0 {
		t.Errorf("re-created environment has overrides %v, %v", got, err)
	}
	if e, err := s.EnvironmentByID(ctx, a.ID); err != nil || e.HasURLOverrides {
		t.Errorf("re-created environment: HasURLOverrides = %v, %v", e.HasURLOverrides, err)
	}
	if evs, err := s.ListEvents(ctx, a.ID, herald.EventFilter{Limit: 200}); err != nil || len(evs) != 0 {
		t.Errorf("re-created environment lists %d events, %v", len(evs), err)
	}
	// Its keys are gone too: the same connection is new, and matches once.
	if !putConnection(t, s, makeConnection(a.ID, "github", "conn-2", `{"instance":"acme"}`, "")) {
		t.Error("PutConnection in the re-created environment: created = false")
	}
	if got := connRefs(matchConns(t, s, a.ID, "github", keys)); !slices.Equal(got, []string{"github/conn-2"}) {
		t.Errorf("re-created environment matches %v, want [github/conn-2]", got)
	}
	// The other environment is untouched.
	if got := connRefs(matchConns(t, s, b.ID, "github", keys)); !slices.Equal(got, []string{"github/conn-1", "github/conn-2"}) {
		t.Errorf("b matches %v after a was deleted", got)
	}
	if got := integrationKeys(listIntegrations(t, s, b.ID, herald.Page{Limit: 200})); !slices.Equal(got, []string{"github"}) {
		t.Errorf("b lists integrations %v after a was deleted", got)
	}
	if e, err := s.EnvironmentByID(ctx, b.ID); err != nil || !e.HasURLOverrides {
		t.Errorf("b: HasURLOverrides = %v, %v; want true", e.HasURLOverrides, err)
	}
}
