package forward

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward/forwardtest"
)

func TestShopifyVerify(t *testing.T) {
	now := time.Now()
	s := sampleOf(t, "shopify", now)
	secret := s.Credentials["webhook_secret"]
	r := reqOf(s, now)
	sig := r.Header.Get("X-Shopify-Hmac-Sha256")
	checkSigCases(t, "shopify", []sigCase{
		{name: "sample", req: r, secret: secret},
		{name: "signed with the client secret", req: with(r, nil, "X-Shopify-Hmac-Sha256", forwardtest.Base64(forwardtest.HMACSHA256("shpss_client", string(r.Body)))), secret: "shpss_client"},
		{name: "tampered body", req: with(r, tampered(r.Body)), secret: secret, want: sigBad, reason: reasonMismatch},
		{name: "wrong secret", req: r, secret: "shpss_other", want: sigBad, reason: reasonMismatch},
		{name: "hex instead of base64", req: with(r, nil, "X-Shopify-Hmac-Sha256", forwardtest.Hex(forwardtest.HMACSHA256(secret, string(r.Body)))), secret: secret, want: sigBad},
		{name: "truncated", req: with(r, nil, "X-Shopify-Hmac-Sha256", sig[:len(sig)-4]), secret: secret, want: sigBad},
		{name: "not base64", req: with(r, nil, "X-Shopify-Hmac-Sha256", "!!!"), secret: secret, want: sigBad},
		{name: "no signature", req: with(r, nil, "X-Shopify-Hmac-Sha256", ""), secret: secret, want: sigNone},
	})
}

func TestShopifyRoute(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name, domain string
		keys         []herald.ConnectionKey
	}{
		{
			name: "myshopify domain", domain: "acme-store.myshopify.com",
			keys: []herald.ConnectionKey{cfgKey("subdomain", "acme-store"), cfgKey("subdomain", "acme-store.myshopify.com")},
		},
		{
			name: "upper case", domain: " Acme-Store.MyShopify.com ",
			keys: []herald.ConnectionKey{cfgKey("subdomain", "acme-store"), cfgKey("subdomain", "acme-store.myshopify.com")},
		},
		{
			name: "with a scheme and a path", domain: "https://acme-store.myshopify.com/admin",
			keys: []herald.ConnectionKey{cfgKey("subdomain", "acme-store"), cfgKey("subdomain", "acme-store.myshopify.com")},
		},
		{name: "bare name", domain: "acme-store", keys: []herald.ConnectionKey{cfgKey("subdomain", "acme-store")}},
		{name: "no domain", domain: ""},
		{name: "dot first", domain: ".myshopify.com", keys: []herald.ConnectionKey{cfgKey("subdomain", ".myshopify.com")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := jsonReq(`{"id":820982911946154508,"email":"jon@example.com"}`, now, "X-Shopify-Topic", "orders/create")
			if c.domain != "" {
				r.Header.Set("X-Shopify-Shop-Domain", c.domain)
			}
			_, rt := routeOf(t, "shopify", r)
			checkKeys(t, rt.Keys, c.keys...)
			if rt.EventType != "orders/create" || rt.Answer != nil {
				t.Errorf("EventType = %q, Answer = %v", rt.EventType, rt.Answer)
			}
		})
	}
}
