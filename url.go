package herald

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxURLLength is the longest destination URL ValidateURL accepts, in bytes.
const MaxURLLength = 2048

// ValidateURL checks the syntax of a webhook URL without any network
// access; it is the one definition of a valid URL, used when settings are
// changed and again by the outbound client before every attempt. The URL it must be an absolute http or https URL of at most MaxURLLength
// bytes with a non-empty host, a valid port if one is given, no whitespace
// or control characters, and no userinfo (credentials in webhook URLs end up
// in logs). It returns the parsed URL.
func ValidateURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("URL is empty")
	}
	if len(raw) > MaxURLLength {
		return nil, fmt.Errorf("URL is %d bytes long; the limit is %d", len(raw), MaxURLLength)
	}
	if !utf8.ValidString(raw) {
		// How a lone surrogate escape arrives (see package canonjson).
		return nil, errors.New("URL is not valid UTF-8")
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return nil, errors.New("URL contains whitespace or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if err := ValidateParsedURL(u); err != nil {
		return nil, err
	}
	return u, nil
}

// ValidateParsedURL applies the structural rules of ValidateURL to an
// already parsed URL (the outbound client receives those).
func ValidateParsedURL(u *url.URL) error {
	if u.Scheme == "" {
		return errors.New("URL must be absolute (start with http:// or https://)")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return fmt.Errorf("URL scheme %q is not allowed; use http or https", u.Scheme)
	}
	if u.User != nil {
		return errors.New("URL must not contain credentials (userinfo); credentials in URLs leak into logs")
	}
	host := u.Hostname()
	if host == "" {
		return errors.New("URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("URL port %q is not in 1-65535", p)
		}
	}
	if _, err := netip.ParseAddr(host); err != nil && looksNumeric(host) {
		// "http://2130706433/", "http://0x7f.1/", "http://127.1/": some
		// resolvers (getaddrinfo) read these as IPv4 addresses. The pinned
		// dialer would still judge the result, but there is no legitimate
		// reason for such a host.
		return fmt.Errorf("URL host %q looks like a non-canonical IP address", host)
	}
	return nil
}

// looksNumeric reports whether the last label of a host name is numeric
// (decimal or 0x hex); no real top-level domain is.
func looksNumeric(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		host = host[i+1:]
	}
	if host == "" {
		return false
	}
	if h := strings.ToLower(host); strings.HasPrefix(h, "0x") {
		return strings.Trim(h[2:], "0123456789abcdef") == ""
	}
	return strings.Trim(host, "0123456789") == ""
}

// LogURL is what a log shows of a webhook URL: its scheme, host and path,
// without user info, query or fragment, which may hold secrets.
func LogURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}
