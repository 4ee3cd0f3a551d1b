package forward

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

func TestGitHubVerify(t *testing.T) {
	now := time.Now()
	for _, name := range []string{"github-app", "github"} {
		t.Run(name, func(t *testing.T) {
			s := sampleOf(t, name, now)
			secret := s.Credentials["webhook_secret"]
			r := reqOf(s, now)
			sha1Only := with(r, nil, "X-Hub-Signature-256", "")
			// GitHub's documented example: secret "It's a Secret to
			// Everybody", payload "Hello, World!".
			doc := jsonReq("Hello, World!", now, "X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
			checkSigCases(t, name, []sigCase{
				{name: "sample", req: r, secret: secret},
				{name: "documented example", req: doc, secret: "It's a Secret to Everybody"},
				{name: "upper-case hex", req: with(doc, nil, "X-Hub-Signature-256", "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"), secret: "It's a Secret to Everybody"},
				{name: "tampered body", req: with(r, tampered(r.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
				{name: "wrong secret", req: r, secret: "another", want: sigBad, reason: reasonMismatch},
				{name: "sha1 only", req: sha1Only, secret: secret, want: sigNone},
				{name: "no prefix", req: with(r, nil, "X-Hub-Signature-256", forwardtest.Hex(forwardtest.HMACSHA256(secret, string(r.Body)))), secret: secret, want: sigBad},
				{name: "sha1 prefix", req: with(r, nil, "X-Hub-Signature-256", "sha1=abc"), secret: secret, want: sigBad},
				{name: "not hex", req: with(r, nil, "X-Hub-Signature-256", "sha256=xyz"), secret: secret, want: sigBad},
				{name: "no signature", req: jsonReq(`{}`, now), secret: secret, want: sigNone},
			})
		})
	}
}

func TestGitHubRoute(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name, provider, event, body string
		keys                        []herald.ConnectionKey
	}{
		{
			name: "app: installation id", provider: "github-app", event: "issues",
			body: `{"action":"opened","issue":{"number":1},"repository":{"full_name":"acme-inc/api","owner":{"login":"acme-inc"}},"installation":{"id":38631545,"node_id":"MDIz"}}`,
			keys: []herald.ConnectionKey{cfgKey("installation_id", "38631545")},
		},
		{
			name: "app: installation event", provider: "github-app", event: "installation",
			body: `{"action":"created","installation":{"id":9007199254740993,"account":{"login":"acme-inc"}}}`,
			keys: []herald.ConnectionKey{cfgKey("installation_id", "9007199254740992")},
		},
		{name: "app: no installation", provider: "github-app", event: "ping", body: `{"zen":"Keep it logically awesome.","hook_id":1}`},
		{name: "app: installation not an object", provider: "github-app", event: "ping", body: `{"installation":38631545}`},
		{
			name: "user repository push", provider: "github", event: "push",
			body: `{"ref":"refs/heads/main","repository":{"name":"Hello-World","full_name":"Codertocat/Hello-World","owner":{"name":"Codertocat","login":"Codertocat"}},"sender":{"login":"someone"}}`,
			keys: []herald.ConnectionKey{
				cfgKey("owner", "Codertocat"), metaKey("owner", "Codertocat"),
				cfgKey("repository", "Codertocat/Hello-World"), metaKey("repository", "Codertocat/Hello-World"),
			},
		},
		{
			name: "organization repository", provider: "github", event: "pull_request",
			body: `{"action":"opened","repository":{"full_name":"acme-inc/api","owner":{"login":"acme-inc"}},"organization":{"login":"acme-inc"}}`,
			keys: []herald.ConnectionKey{
				cfgKey("owner", "acme-inc"), metaKey("owner", "acme-inc"),
				cfgKey("org", "acme-inc"), metaKey("org", "acme-inc"),
				cfgKey("repository", "acme-inc/api"), metaKey("repository", "acme-inc/api"),
			},
		},
		{
			name: "organization event", provider: "github", event: "organization",
			body: `{"action":"member_added","organization":{"login":"acme-inc"},"membership":{"user":{"login":"octocat"}}}`,
			keys: []herald.ConnectionKey{
				cfgKey("owner", "acme-inc"), metaKey("owner", "acme-inc"),
				cfgKey("org", "acme-inc"), metaKey("org", "acme-inc"),
			},
		},
		{name: "nothing to route by", provider: "github", event: "ping", body: `{"zen":"Design for failure.","repository":{"owner":"x"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, rt := routeOf(t, c.provider, jsonReq(c.body, now, "X-GitHub-Event", c.event))
			checkKeys(t, rt.Keys, c.keys...)
			if rt.EventType != c.event || rt.Answer != nil {
				t.Errorf("EventType = %q, Answer = %v; want %q, nil", rt.EventType, rt.Answer, c.event)
			}
		})
	}
}
