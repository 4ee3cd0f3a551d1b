package forward

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

const jiraTestSecret = "Gq3VJ0sP1rXo7yBz2mLk9tNe"

const jiraTestBody = `{"timestamp":1767607951164,"webhookEvent":"jira:issue_created","issue_event_type_name":"issue_created",` +
	`"user":{"self":"https://heraldhq.atlassian.net/rest/api/2/user?accountId=5b10a2844c20165700ede21g","accountId":"5b10a2844c20165700ede21g","displayName":"Mia Krystof"},` +
	`"issue":{"id":"10003","self":"https://heraldhq.atlassian.net/rest/api/2/10003","key":"HER-4","fields":{"summary":"New issue"}}}`

func TestJiraVerify(t *testing.T) {
	body := []byte(jiraTestBody)
	sig := hex.EncodeToString(testHMAC([]byte(jiraTestSecret), jiraTestBody))
	for _, c := range []struct {
		name   string
		header string
		body   []byte
		secret string
		want   string
	}{
		{"correct", "sha256=" + sig, body, jiraTestSecret, "ok"},
		{"method in upper case", "SHA256=" + sig, body, jiraTestSecret, "ok"},
		{"tampered body", "sha256=" + sig, []byte(strings.Replace(jiraTestBody, "HER-4", "HER-5", 1)), jiraTestSecret, "bad"},
		{"wrong secret", "sha256=" + sig, body, "another-secret", "bad"},
		{"missing header", "", body, jiraTestSecret, "none"},
		{"no method", sig, body, jiraTestSecret, "bad"},
		{"sha1, which Jira does not use", "sha1=" + sig[:40], body, jiraTestSecret, "bad"},
		{"not hex", "sha256=not-hex", body, jiraTestSecret, "bad"},
		{"empty signature", "sha256=", body, jiraTestSecret, "bad"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pairs []string
			if c.header != "" {
				pairs = []string{"X-Hub-Signature", c.header}
			}
			r := testRequest("https://herald.example.com/webhook/env-1/jira", c.body, time.Now(), pairs...)
			verifyOutcome(t, providers["jira"].Verify(r, c.secret), c.want)
		})
	}
}

func TestJiraRoute(t *testing.T) {
	keys := func(origins ...string) []herald.ConnectionKey {
		var out []herald.ConnectionKey
		for _, o := range origins {
			out = append(out,
				herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: "baseUrl", Value: o},
				herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: "baseUrl", Value: o + "/"})
		}
		return out
	}
	const site = "https://heraldhq.atlassian.net"
	for _, c := range []struct {
		name string
		body string
		want Route
	}{
		{"issue event: issue.self and user.self on one site", jiraTestBody, Route{Keys: keys(site), EventType: "jira:issue_created"}},
		{"comment event", `{"timestamp":1,"webhookEvent":"comment_created","comment":{"self":"https://heraldhq.atlassian.net/rest/api/2/issue/10003/comment/10010","id":"10010","body":"hi"}}`,
			Route{Keys: keys(site), EventType: "comment_created"}},
		{"sprint event", `{"timestamp":1,"webhookEvent":"sprint_started","sprint":{"id":3,"self":"https://heraldhq.atlassian.net/rest/agile/1.0/sprint/3","state":"active"}}`,
			Route{Keys: keys(site), EventType: "sprint_started"}},
		{"host case and default port", `{"webhookEvent":"project_created","project":{"self":"HTTPS://HeraldHQ.Atlassian.net:443/rest/api/2/project/10000"}}`,
			Route{Keys: keys(site), EventType: "project_created"}},
		{"other port kept", `{"webhookEvent":"jira:version_released","version":{"self":"http://jira.internal:8080/rest/api/2/version/10000"}}`,
			Route{Keys: keys("http://jira.internal:8080"), EventType: "jira:version_released"}},
		{"an object Nango does not list", `{"webhookEvent":"dashboard_updated","dashboard":{"self":"https://heraldhq.atlassian.net/rest/api/2/dashboard/10000"}}`,
			Route{Keys: keys(site), EventType: "dashboard_updated"}},
		{"two sites: Nango's first one first", `{"webhookEvent":"jira:issue_updated","user":{"self":"https://b.atlassian.net/rest/api/2/user"},"issue":{"self":"https://a.atlassian.net/rest/api/2/issue/1"}}`,
			Route{Keys: keys("https://a.atlassian.net", "https://b.atlassian.net"), EventType: "jira:issue_updated"}},
		{"self not an address", `{"webhookEvent":"jira:issue_deleted","issue":{"self":"10003"},"user":{"self":42}}`, Route{EventType: "jira:issue_deleted"}},
		{"no self", `{"webhookEvent":"board_created","board":{"id":1}}`, Route{EventType: "board_created"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := providers["jira"].Route(&Request{}, parseJSON(t, []byte(c.body)))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Route = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestJiraSample(t *testing.T) { checkProviderSample(t, "jira") }
