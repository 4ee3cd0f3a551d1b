package forward

import (
	"strings"

	herald "github.com/heraldhq/herald"
)

// init registers shopify. Shopify signs its webhooks
// (https://shopify.dev/docs/apps/build/webhooks/subscribe/https, "Verify
// webhooks"): X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw
// body, keyed with the secret of the webhook subscription
// (credentials.webhook_secret, for webhooks made in the Shopify admin) or,
// when none is configured, the app's client secret
// (credentials.client_secret). Shopify has no handshake.
//
// Route, as Nango does: the shop's domain, X-Shopify-Shop-Domain
// ("my-shop.myshopify.com"), finds the connections whose connection_config
// subdomain is the part of it before the first dot ("my-shop", as Nango
// stores it) or is the full domain. EventType is X-Shopify-Topic
// ("orders/create", …).
func init() {
	register(&Provider{
		Name:   "shopify",
		Secret: WebhookOrClientSecret,
		Verify: shopifyVerify,
		Route:  shopifyRoute,
	})
}

func shopifyVerify(r *Request, secret string) error {
	sig := r.Header.Get("X-Shopify-Hmac-Sha256")
	if sig == "" {
		return ErrNoSignature
	}
	if !equalBase64(sig, macSHA256([]byte(secret), r.Body)) {
		return Mismatch()
	}
	return nil
}

func shopifyRoute(r *Request, _ any) Route {
	var keys []herald.ConnectionKey
	if domain := shopifyDomain(r.Header.Get("X-Shopify-Shop-Domain")); domain != "" {
		sub, _, _ := strings.Cut(domain, ".")
		keys = appendKeysOnce(keys, configKeys(sub, "subdomain")...)
		keys = appendKeysOnce(keys, configKeys(domain, "subdomain")...)
	}
	return Route{Keys: keys, EventType: r.Header.Get("X-Shopify-Topic")}
}

// shopifyDomain is the host name of a shop domain header, lower case, as
// Nango reads it through new URL("https://" + domain).hostname.
func shopifyDomain(h string) string {
	h = strings.TrimSpace(h)
	if _, rest, ok := strings.Cut(h, "://"); ok {
		h = rest
	}
	if i := strings.IndexAny(h, "/?#:"); i >= 0 {
		h = h[:i]
	}
	return strings.ToLower(h)
}
