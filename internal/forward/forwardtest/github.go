package forwardtest

import (
	"fmt"
	"time"
)

// GitHub: webhooks signed with the webhook's secret, X-Hub-Signature-256 =
// "sha256=" + hex HMAC-SHA256(secret, body), sent with the older SHA-1
// X-Hub-Signature
// (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
//
//   - github-app: an issues "opened" event of an App installation
//     (https://docs.github.com/en/webhooks/webhook-events-and-payloads#issues),
//     routed by installation.id to connection_config installation_id;
//   - github: a push to a repository webhook
//     (https://docs.github.com/en/webhooks/webhook-events-and-payloads#push),
//     routed by the repository's full name to metadata repository.
func init() {
	register("github-app", func(_ string, signedAt time.Time) Sample {
		const secret = "gh-app-5e1d9c7b3a2f4e6d8c0b"
		at := signedAt.Add(-time.Second).UTC().Format(time.RFC3339)
		body := fmt.Sprintf(`{"action":"opened","issue":{"url":"https://api.github.com/repos/acme-inc/api/issues/1347","repository_url":"https://api.github.com/repos/acme-inc/api","html_url":"https://github.com/acme-inc/api/issues/1347","id":1234567890,"node_id":"I_kwDOABCD5M5JlN8C","number":1347,"title":"Found a bug","user":{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","type":"User","site_admin":false},"labels":[],"state":"open","locked":false,"assignee":null,"assignees":[],"milestone":null,"comments":0,"created_at":%q,"updated_at":%q,"closed_at":null,"author_association":"MEMBER","body":"I'm having a problem with this."},`+
			`"repository":{"id":1296269,"node_id":"MDEwOlJlcG9zaXRvcnkxMjk2MjY5","name":"api","full_name":"acme-inc/api","private":true,"owner":{"login":"acme-inc","id":9919,"node_id":"MDEyOk9yZ2FuaXphdGlvbjk5MTk=","type":"Organization","site_admin":false},"html_url":"https://github.com/acme-inc/api","default_branch":"main"},`+
			`"organization":{"login":"acme-inc","id":9919,"node_id":"MDEyOk9yZ2FuaXphdGlvbjk5MTk=","url":"https://api.github.com/orgs/acme-inc"},`+
			`"sender":{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","type":"User","site_admin":false},`+
			`"installation":{"id":38631545,"node_id":"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMzg2MzE1NDU="}}`,
			at, at)
		return githubSample("github-app", "issues", secret, body, map[string]any{"installation_id": "38631545", "app_id": "412345"}, nil)
	})
	register("github", func(_ string, signedAt time.Time) Sample {
		const secret = "gh-hook-0c9b8a7d6e5f4a3b2c1d"
		at := signedAt.Add(-2 * time.Second).Unix()
		body := fmt.Sprintf(`{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","repository":{"id":186853002,"node_id":"MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=","name":"Hello-World","full_name":"Codertocat/Hello-World","private":false,"owner":{"name":"Codertocat","email":"21031067+Codertocat@users.noreply.github.com","login":"Codertocat","id":21031067,"node_id":"MDQ6VXNlcjIxMDMxMDY3","type":"User","site_admin":false},"html_url":"https://github.com/Codertocat/Hello-World","fork":false,"created_at":1557933565,"pushed_at":%d,"default_branch":"main","master_branch":"main"},`+
			`"pusher":{"name":"Codertocat","email":"21031067+Codertocat@users.noreply.github.com"},`+
			`"sender":{"login":"Codertocat","id":21031067,"node_id":"MDQ6VXNlcjIxMDMxMDY3","type":"User","site_admin":false},`+
			`"created":false,"deleted":false,"forced":false,"base_ref":null,"compare":"https://github.com/Codertocat/Hello-World/compare/6113728f27ae...0d1a26e67d8f",`+
			`"commits":[{"id":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","tree_id":"f9d2a07e9488b91af2641b26b9407fe22a451433","distinct":true,"message":"Update README.md","timestamp":"2019-05-15T15:20:41-04:00","url":"https://github.com/Codertocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","author":{"name":"Codertocat","email":"21031067+Codertocat@users.noreply.github.com","username":"Codertocat"},"committer":{"name":"GitHub","email":"noreply@github.com","username":"web-flow"},"added":[],"removed":[],"modified":["README.md"]}],`+
			`"head_commit":{"id":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","tree_id":"f9d2a07e9488b91af2641b26b9407fe22a451433","distinct":true,"message":"Update README.md","timestamp":"2019-05-15T15:20:41-04:00","url":"https://github.com/Codertocat/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","author":{"name":"Codertocat","email":"21031067+Codertocat@users.noreply.github.com","username":"Codertocat"},"committer":{"name":"GitHub","email":"noreply@github.com","username":"web-flow"},"added":[],"removed":[],"modified":["README.md"]}}`,
			at)
		return githubSample("github", "push", secret, body, nil, map[string]any{"repository": "Codertocat/Hello-World"})
	})
}

// githubSample signs a GitHub event body as GitHub does.
func githubSample(provider, event, secret, body string, config, metadata map[string]any) Sample {
	return Sample{
		Provider:    provider,
		Credentials: map[string]string{"webhook_secret": secret},
		Header: JSONHeader(
			"User-Agent", "GitHub-Hookshot/a1b2c3d",
			"X-GitHub-Event", event,
			"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958",
			"X-GitHub-Hook-ID", "292430182",
			"X-Hub-Signature", "sha1="+Hex(HMACSHA1(secret, body)),
			"X-Hub-Signature-256", "sha256="+Hex(HMACSHA256(secret, body)),
		),
		Body:             []byte(body),
		ConnectionConfig: config,
		Metadata:         metadata,
		Payload:          mustCanonical(body),
	}
}
