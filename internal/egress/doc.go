// Package egress is herald's outbound HTTP client: the only way webhook
// deliveries leave the service.
//
// # Threat
//
// Webhook destinations are supplied by customers, so every delivery is a
// request an outsider asked the service to make from inside its network. Left
// unchecked that is server-side request forgery (SSRF): a "webhook" pointed at
// http://127.0.0.1:6379/, http://10.0.0.5/admin or the cloud metadata service
// at http://169.254.169.254/ turns herald into a proxy into private
// infrastructure and can leak instance credentials.
//
// Checking the URL's host name is not enough. A name can resolve to a
// private address, and a name the attacker controls can answer a validation
// lookup with a public address and the connection-time lookup, moments later,
// with 127.0.0.1 (DNS rebinding). The decision must therefore be made on the
// resolved IP address, and that exact address must be the one connected to.
//
// # Design
//
// [Blocked] is the pure policy: it refuses loopback, private (RFC 1918),
// link-local (which includes the 169.254.169.254 metadata endpoint),
// unique-local, CGNAT, multicast, broadcast, reserved, benchmarking and other
// special-purpose IPv4 and IPv6 ranges, unmapping IPv4-mapped IPv6 first and
// looking inside NAT64 and 6to4 addresses.
//
// [Client] pins DNS. Its single shared [net/http.Transport] has no proxy
// (an environment proxy would do its own lookup and defeat pinning) and a
// DialContext that resolves the host exactly once, drops every address the
// policy refuses, and dials the remaining addresses as literal IP:port
// strings, so no second lookup can happen. If every address is refused the
// dial fails with a [*BlockedError] before any connection is attempted. TLS
// is unaffected: the request URL still carries the host name, so the
// Transport sends it as SNI and verifies the certificate against it. As a
// second line of defence the real dialer re-checks the literal address just
// before connect. Redirects are never followed (a redirect could point
// anywhere); a 3xx response is returned to the caller as-is.
//
// [CheckURL] applies the same policy ahead of time (for example when a
// customer registers an endpoint) so errors can be reported early; it is a
// convenience, not the enforcement point, which is the Client's dialer.
//
// [Options.AllowPrivate] disables the address policy for local development
// and tests.
package egress
