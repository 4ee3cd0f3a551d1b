package forward

import (
	"strings"

	herald "github.com/heraldhq/herald"
)

// init registers github-app and github. GitHub signs its webhooks with the
// webhook's secret (credentials.webhook_secret)
// (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
// X-Hub-Signature-256 is "sha256=" + hex HMAC-SHA256(secret, raw body).
// The older SHA-1 X-Hub-Signature is not accepted. GitHub has no handshake:
// its ping event is a signed webhook like any other.
//
// Route for github-app, as Nango does: the payload's installation.id finds
// the connections whose connection_config installation_id equals it.
//
// Route for github (OAuth app or repository webhooks, which carry no
// installation; Nango does not route them): a connection is found by any of
// these keys, in its connection_config or its metadata alike:
//
//   - owner: the login of the repository's owner (repository.owner.login),
//     or of the organization (organization.login) for events about an
//     organization;
//   - org: the organization's login (organization.login);
//   - repository: the repository's full name, "owner/name"
//     (repository.full_name).
//
// For both, EventType is the X-GitHub-Event header ("push", "issues", …).
func init() {
	register(&Provider{
		Name:   "github-app",
		Secret: WebhookSecret,
		Verify: githubVerify,
		Route:  githubAppRoute,
	})
	register(&Provider{
		Name:   "github",
		Secret: WebhookSecret,
		Verify: githubVerify,
		Route:  githubRoute,
	})
}

func githubVerify(r *Request, secret string) error {
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(sig), "sha256=")
	if !ok {
		return Malformed("signature")
	}
	if !equalHex(hexSig, macSHA256([]byte(secret), r.Body)) {
		return Mismatch()
	}
	return nil
}

func githubAppRoute(r *Request, payload any) Route {
	return Route{
		Keys:      configKeys(text(get(payload, "installation", "id")), "installation_id"),
		EventType: r.Header.Get("X-GitHub-Event"),
	}
}

func githubRoute(r *Request, payload any) Route {
	org := text(get(payload, "organization", "login"))
	owner := text(get(payload, "repository", "owner", "login"))
	var keys []herald.ConnectionKey
	for _, field := range []string{herald.FieldConnectionConfig, herald.FieldMetadata} {
		for _, k := range []herald.ConnectionKey{
			{Field: field, Name: "owner", Value: owner},
			{Field: field, Name: "owner", Value: org},
			{Field: field, Name: "org", Value: org},
			{Field: field, Name: "repository", Value: text(get(payload, "repository", "full_name"))},
		} {
			if k.Value != "" {
				keys = appendKeysOnce(keys, k)
			}
		}
	}
	return Route{Keys: keys, EventType: r.Header.Get("X-GitHub-Event")}
}
