package forward

import (
	"crypto/sha256"
	"slices"
	"strconv"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// init registers hubspot. HubSpot signs its webhooks with the app's
// client secret, in three versions, all sent together
// (https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests):
//
//   - v3, preferred when present: X-HubSpot-Signature-v3 is the base64 of
//     HMAC-SHA256(client secret, method + URI + body + timestamp), the
//     timestamp being X-HubSpot-Request-Timestamp (unix milliseconds),
//     refused when more than five minutes away from now. The URI is the full
//     URL called (https://host/path?query) with HubSpot's list of
//     URL-encoded characters decoded (%3A → ":", %2F → "/", …; see
//     hubspotDecodeURI);
//   - v2 (X-HubSpot-Signature-Version: v2): X-HubSpot-Signature is the hex
//     SHA-256 of client secret + method + URI + body;
//   - v1 (X-HubSpot-Signature-Version: v1, or none): X-HubSpot-Signature is
//     the hex SHA-256 of client secret + body.
//
// HubSpot has no handshake. The body is an array of events
// (https://developers.hubspot.com/docs/api/webhooks#webhook-payloads); as
// Nango does, each event's portalId finds the connections whose
// connection_config portalId equals it, events with changeSource "IMPORT"
// route nowhere, and the whole array is forwarded to every connection
// found.
func init() {
	register(&Provider{
		Name:   "hubspot",
		Secret: ClientSecret,
		Verify: hubspotVerify,
		Route:  hubspotRoute,
	})
}

func hubspotVerify(r *Request, secret string) error {
	if sig := r.Header.Get("X-HubSpot-Signature-V3"); sig != "" {
		return hubspotVerifyV3(r, secret, sig)
	}
	sig := r.Header.Get("X-HubSpot-Signature")
	if sig == "" {
		return ErrNoSignature
	}
	h := sha256.New()
	h.Write([]byte(secret))
	switch v := strings.ToLower(strings.TrimSpace(r.Header.Get("X-HubSpot-Signature-Version"))); v {
	case "", "v1":
	case "v2":
		h.Write([]byte(r.Method))
		h.Write([]byte(r.URL))
	default:
		return Malformed("signature version")
	}
	h.Write(r.Body)
	if !equalHex(sig, h.Sum(nil)) {
		return Mismatch()
	}
	return nil
}

func hubspotVerifyV3(r *Request, secret, sig string) error {
	ts := r.Header.Get("X-HubSpot-Request-Timestamp")
	ms, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return Malformed("timestamp")
	}
	key := []byte(secret)
	sign := func(uri string) []byte {
		return macSHA256(key, []byte(r.Method), []byte(uri), r.Body, []byte(ts))
	}
	// HubSpot signs the decoded URI; the URI as called is accepted too, in
	// case a character outside HubSpot's list was encoded differently.
	if !equalBase64(sig, sign(hubspotDecodeURI(r.URL))) && !equalBase64(sig, sign(r.URL)) {
		return Mismatch()
	}
	return checkTime(time.UnixMilli(ms), r.Now, DefaultTolerance)
}

// hubspotURIDecoder decodes the URL-encoded characters HubSpot decodes
// before signing a v3 URI, in either case of hex digit.
var hubspotURIDecoder = func() *strings.Replacer {
	pairs := []string{
		"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
		"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	}
	var all []string
	for i := 0; i < len(pairs); i += 2 {
		all = append(all, pairs[i], pairs[i+1])
		if lower := strings.ToLower(pairs[i]); lower != pairs[i] {
			all = append(all, lower, pairs[i+1])
		}
	}
	return strings.NewReplacer(all...)
}()

// hubspotDecodeURI returns uri as HubSpot signs it for v3.
func hubspotDecodeURI(uri string) string { return hubspotURIDecoder.Replace(uri) }

func hubspotRoute(_ *Request, payload any) Route {
	events, isArray := payload.([]any)
	if !isArray {
		events = []any{payload}
	}
	var rt Route
	var types []string
	for _, e := range events {
		if t := text(get(e, "subscriptionType")); t != "" && !slices.Contains(types, t) {
			types = append(types, t)
		}
		if text(get(e, "changeSource")) == "IMPORT" {
			continue
		}
		rt.Keys = appendKeysOnce(rt.Keys, configKeys(text(get(e, "portalId")), "portalId")...)
	}
	rt.EventType = strings.Join(types, ",")
	return rt
}

// appendKeysOnce appends to keys those of add it does not hold yet.
func appendKeysOnce(keys []herald.ConnectionKey, add ...herald.ConnectionKey) []herald.ConnectionKey {
	for _, k := range add {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}
