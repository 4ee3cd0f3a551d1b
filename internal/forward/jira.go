package forward

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Jira Cloud signs the webhooks an admin registers with a secret, WebSub
// style: X-Hub-Signature: sha256=<hex of HMAC-SHA256(secret, raw body)>
// (https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks);
// sha256 is the only method Jira documents. The objects of a webhook (issue,
// comment, user, …) carry their REST address in self
// (the example callbacks of the same page);
// Nango matches the origin of that address against connection_config.baseUrl.
func init() {
	register(&Provider{
		Name:   "jira",
		Secret: WebhookSecret,
		Verify: jiraVerify,
		Route:  jiraRoute,
	})
}

func jiraVerify(r *Request, secret string) error {
	header := r.Header.Get("X-Hub-Signature")
	if header == "" {
		return ErrNoSignature
	}
	method, sig, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(method, "sha256") {
		return Malformed("X-Hub-Signature")
	}
	if !equalHex(sig, macSHA256([]byte(secret), r.Body)) {
		return Mismatch()
	}
	return nil
}

// jiraSelfObjects are the top-level objects whose self Nango reads, in its
// order.
var jiraSelfObjects = []string{"issue", "comment", "sprint", "board", "worklog", "version",
	"issueLink", "project", "attachment", "issuetype", "filter", "user"}

// jiraRoute gives connection_config baseUrl keys for the origin of each
// top-level object's self (Nango's objects first, then the others by
// name), written with and without a trailing slash; EventType is
// webhookEvent. The objects of one webhook all live on the same site, so
// this finds what Nango finds from the first of them.
func jiraRoute(_ *Request, payload any) Route {
	rt := Route{EventType: text(get(payload, "webhookEvent"))}
	obj, _ := payload.(map[string]any)
	names := slices.Concat(jiraSelfObjects, slices.Sorted(maps.Keys(obj)))
	seen := map[string]bool{}
	for _, n := range names {
		self, _ := get(obj, n, "self")
		s, _ := self.(string)
		origin := jiraOrigin(s)
		if origin == "" || seen[origin] {
			continue
		}
		seen[origin] = true
		rt.Keys = append(rt.Keys, configKeys(origin, "baseUrl")...)
		rt.Keys = append(rt.Keys, configKeys(origin+"/", "baseUrl")...)
	}
	return rt
}

// jiraOrigin is the origin of an http(s) address as JavaScript's URL writes
// it (scheme://host[:port], lower case, default port left out), or "".
func jiraOrigin(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	}
	return scheme + "://" + host
}
