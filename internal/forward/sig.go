package forward

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
)

// DefaultTolerance is how far a signed timestamp may be from now, as most
// providers document it (five minutes).
const DefaultTolerance = 5 * time.Minute

// macSHA256 returns HMAC-SHA256(key, parts…).
func macSHA256(key []byte, parts ...[]byte) []byte { return mac(sha256.New, key, parts) }

// macSHA1 returns HMAC-SHA1(key, parts…).
func macSHA1(key []byte, parts ...[]byte) []byte { return mac(sha1.New, key, parts) }

func mac(h func() hash.Hash, key []byte, parts [][]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// equalHex reports, in constant time, whether got is the hex of want
// (either case).
func equalHex(got string, want []byte) bool {
	b, err := hex.DecodeString(strings.TrimSpace(got))
	if err != nil {
		return false
	}
	return hmac.Equal(b, want)
}

// equalBase64 reports, in constant time, whether got is the standard
// base64 of want.
func equalBase64(got string, want []byte) bool {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(got))
	if err != nil {
		return false
	}
	return hmac.Equal(b, want)
}

// checkUnix checks a timestamp in unix seconds (a decimal string) against
// now within tolerance.
func checkUnix(ts string, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return Malformed("timestamp")
	}
	return checkTime(time.Unix(sec, 0), now, tolerance)
}

// checkTime checks that t is within tolerance of now, either way.
func checkTime(t, now time.Time, tolerance time.Duration) error {
	d := now.Sub(t)
	if d < -tolerance || d > tolerance {
		return Expired()
	}
	return nil
}

// ParseBody is the default Parse: a JSON body parsed as JavaScript's
// JSON.parse does; a form-encoded body as an object of its fields (the
// first value of each, as Express's urlencoded parser gives Nango); an
// empty body as null. A body labelled form-encoded that is a JSON object
// or array (curl -d labels everything so) is read as JSON.
func ParseBody(r *Request) (any, error) {
	trimmed := strings.TrimSpace(string(r.Body))
	if trimmed == "" {
		return nil, nil
	}
	if isForm(r) {
		if trimmed[0] == '{' || trimmed[0] == '[' {
			if v, err := canonjson.Parse(r.Body); err == nil {
				return v, nil
			}
		}
		return parseForm(r.Body)
	}
	return canonjson.Parse(r.Body)
}

func isForm(r *Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

func parseForm(body []byte) (any, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	obj := make(map[string]any, len(vals))
	for k, v := range vals {
		obj[k] = v[0]
	}
	return obj, nil
}

// get follows path through nested objects of v; ok is false when a step
// is missing or not an object.
func get(v any, path ...string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// text is v as routing compares it (herald.KeyText, JavaScript numbers);
// "" for a missing value, null, an object or an array.
func text(v any, ok bool) string {
	if !ok {
		return ""
	}
	if f, isNum := v.(float64); isNum {
		return string(canonjson.AppendNumber(nil, f))
	}
	if s, isStr := v.(string); isStr {
		return s
	}
	if b, isBool := v.(bool); isBool {
		return strconv.FormatBool(b)
	}
	return ""
}

// keys builds the route keys for one value found under several names: a
// connection_config key per name. An empty value gives none.
func configKeys(value string, names ...string) []herald.ConnectionKey {
	if value == "" {
		return nil
	}
	out := make([]herald.ConnectionKey, 0, len(names))
	for _, n := range names {
		out = append(out, herald.ConnectionKey{Field: herald.FieldConnectionConfig, Name: n, Value: value})
	}
	return out
}
