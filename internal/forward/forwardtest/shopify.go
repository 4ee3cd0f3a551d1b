package forwardtest

import (
	"fmt"
	"time"
)

// Shopify: an orders/create webhook
// (https://shopify.dev/docs/api/webhooks, topic orders/create),
// whose order id, 820982911946154508 as in Shopify's own example, is above
// 2^53, signed with the webhook secret: X-Shopify-Hmac-Sha256 = base64
// HMAC-SHA256(secret, body)
// (https://shopify.dev/docs/apps/build/webhooks/subscribe/https). Nango
// keeps the shop's subdomain ("acme-store" for acme-store.myshopify.com)
// in connection_config subdomain.
func init() {
	register("shopify", func(_ string, signedAt time.Time) Sample {
		const secret = "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"
		at := signedAt.Add(-time.Second).UTC().Format("2006-01-02T15:04:05-07:00")
		body := fmt.Sprintf(`{"id":820982911946154508,"admin_graphql_api_id":"gid://shopify/Order/820982911946154508","app_id":null,"browser_ip":null,"buyer_accepts_marketing":true,"cancel_reason":"customer","cancelled_at":null,"cart_token":null,"checkout_id":null,"checkout_token":null,"confirmation_number":null,"confirmed":false,"contact_email":"jon@example.com","created_at":%q,"currency":"USD","current_subtotal_price":"398.00","current_total_discounts":"0.00","current_total_price":"398.00","current_total_tax":"0.00","customer_locale":"en","email":"jon@example.com","estimated_taxes":false,"financial_status":"voided","fulfillment_status":"pending","name":"#9999","note":null,"number":234,"order_number":1234,"phone":null,"presentment_currency":"USD","processed_at":%q,"source_name":"web","subtotal_price":"388.00","tags":"tag1, tag2","taxes_included":false,"test":true,"total_discounts":"20.00","total_line_items_price":"398.00","total_price":"403.00","total_tax":"0.00","total_weight":0,"updated_at":%q,`+
			`"customer":{"id":115310627314723954,"email":"john@example.com","created_at":null,"updated_at":null,"first_name":"John","last_name":"Smith","state":"disabled","note":null,"verified_email":true,"tags":"","currency":"USD","admin_graphql_api_id":"gid://shopify/Customer/115310627314723954"},`+
			`"line_items":[{"id":866550311766439020,"admin_graphql_api_id":"gid://shopify/LineItem/866550311766439020","fulfillable_quantity":1,"fulfillment_service":"manual","gift_card":false,"grams":567,"name":"IPod Nano - 8GB","price":"199.00","product_exists":true,"product_id":632910392,"quantity":1,"requires_shipping":true,"sku":"IPOD2008PINK","taxable":true,"title":"IPod Nano - 8GB","total_discount":"0.00","variant_id":808950810,"variant_title":null,"vendor":null,"tax_lines":[],"discount_allocations":[]}],`+
			`"shipping_address":{"first_name":"Steve","address1":"123 Shipping Street","phone":"555-555-SHIP","city":"Shippington","zip":"40003","province":"Kentucky","country":"United States","last_name":"Shipper","address2":null,"company":"Shipping Company","latitude":null,"longitude":null,"name":"Steve Shipper","country_code":"US","province_code":"KY"}}`,
			at, at, at)
		return Sample{
			Provider:    "shopify",
			Credentials: map[string]string{"webhook_secret": secret},
			Header: JSONHeader(
				"User-Agent", "Shopify-Captain-Hook",
				"X-Shopify-Topic", "orders/create",
				"X-Shopify-Hmac-Sha256", Base64(HMACSHA256(secret, body)),
				"X-Shopify-Shop-Domain", "acme-store.myshopify.com",
				"X-Shopify-API-Version", "2025-01",
				"X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
				"X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5",
				"X-Shopify-Triggered-At", signedAt.UTC().Format("2006-01-02T15:04:05.000000000Z"),
			),
			Body:             []byte(body),
			ConnectionConfig: map[string]any{"subdomain": "acme-store"},
			Payload:          mustCanonical(body),
		}
	})
}
