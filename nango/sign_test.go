package nango

import (
	"strings"
	"testing"
	"time"
)

func TestVerifyHMACAndLegacy(t *testing.T) {
	key := "a3b1c2d4-0000-4000-8000-123456789abc"
	body := []byte(asyncAction)
	mac := SignHMAC(key, body)
	legacy := SignLegacy(key, body)
	if len(mac) != 64 || strings.ToLower(mac) != mac {
		t.Fatalf("SignHMAC = %q, want 64 lowercase hex digits", mac)
	}
	tampered := []byte(strings.Replace(asyncAction, `"c1"`, `"c2"`, 1))

	for _, v := range []struct {
		name   string
		verify func(string, []byte, string) bool
		good   string
	}{
		{"hmac", VerifyHMAC, mac},
		{"legacy", VerifyLegacy, legacy},
	} {
		t.Run(v.name, func(t *testing.T) {
			if !v.verify(key, body, v.good) {
				t.Error("rejected a good signature")
			}
			if !v.verify(key, body, strings.ToUpper(v.good)) {
				t.Error("rejected an upper-case hex signature")
			}
			if !v.verify(key, body, " "+v.good+" ") {
				t.Error("rejected a signature with surrounding spaces")
			}
			bad := map[string]struct {
				key    string
				body   []byte
				header string
			}{
				"wrong key":       {"other-key", body, v.good},
				"tampered body":   {key, tampered, v.good},
				"empty body":      {key, nil, v.good},
				"empty header":    {key, body, ""},
				"not hex":         {key, body, strings.Repeat("zz", 32)},
				"odd length":      {key, body, v.good[:63]},
				"truncated":       {key, body, v.good[:62]},
				"too long":        {key, body, v.good + "00"},
				"sha256= prefix":  {key, body, "sha256=" + v.good},
				"other signature": {key, body, map[bool]string{true: legacy, false: mac}[v.good == mac]},
			}
			for name, b := range bad {
				if v.verify(b.key, b.body, b.header) {
					t.Errorf("%s: accepted", name)
				}
			}
		})
	}
}

func TestStandardWebhooks(t *testing.T) {
	key := "k1"
	body := []byte(forward)
	ts := int64(1767225600)
	now := time.Unix(ts, 0)
	sig := SignStandard(key, "evt_1", ts, body)
	if !strings.HasPrefix(sig, "v1,") {
		t.Fatalf("SignStandard = %q", sig)
	}
	if got := StandardSecret("k1"); got != "whsec_azE=" {
		t.Errorf("StandardSecret = %q", got)
	}

	ok := []struct {
		name   string
		keys   []string
		header string
		now    time.Time
		tol    time.Duration
	}{
		{"exact", []string{key}, sig, now, time.Minute},
		{"within tolerance past", []string{key}, sig, now.Add(59 * time.Second), time.Minute},
		{"within tolerance future", []string{key}, sig, now.Add(-59 * time.Second), time.Minute},
		{"default tolerance", []string{key}, sig, now.Add(4 * time.Minute), 0},
		{"several entries", []string{key}, "v1,AAAA " + sig + " v1a,xyz", now, time.Minute},
		{"second key", []string{"old", key}, sig, now, time.Minute},
		{"whsec key", []string{StandardSecret(key)}, sig, now, time.Minute},
	}
	for _, c := range ok {
		if err := VerifyStandard(c.keys, "evt_1", ts, body, c.header, c.now, c.tol); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}

	bad := []struct {
		name   string
		keys   []string
		id     string
		body   []byte
		header string
		now    time.Time
		want   error
	}{
		{"wrong key", []string{"k2"}, "evt_1", body, sig, now, ErrSignatureMismatch},
		{"no keys", nil, "evt_1", body, sig, now, ErrSignatureMismatch},
		{"tampered body", []string{key}, "evt_1", append([]byte(" "), body...), sig, now, ErrSignatureMismatch},
		{"wrong id", []string{key}, "evt_2", body, sig, now, ErrSignatureMismatch},
		{"stale", []string{key}, "evt_1", body, sig, now.Add(6 * time.Minute), ErrTimestampTooOld},
		{"future", []string{key}, "evt_1", body, sig, now.Add(-6 * time.Minute), ErrTimestampTooNew},
		{"empty header", []string{key}, "evt_1", body, "", now, ErrNoSignature},
		{"no v1 entry", []string{key}, "evt_1", body, "v2," + sig[3:], now, ErrNoSignature},
		{"bare base64", []string{key}, "evt_1", body, sig[3:], now, ErrNoSignature},
		{"bad base64", []string{key}, "evt_1", body, "v1,!!!", now, ErrNoSignature},
		{"truncated signature", []string{key}, "evt_1", body, sig[:len(sig)-4], now, ErrSignatureMismatch},
	}
	for _, c := range bad {
		if err := VerifyStandard(c.keys, c.id, ts, c.body, c.header, c.now, 5*time.Minute); err != c.want {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// A different timestamp changes the signed content.
	if err := VerifyStandard([]string{key}, "evt_1", ts+1, body, sig, now, time.Minute); err != ErrSignatureMismatch {
		t.Errorf("other timestamp: err = %v", err)
	}
	// Extreme timestamps do not overflow into acceptance.
	for _, extreme := range []int64{-1 << 63, 1<<63 - 1} {
		if err := VerifyStandard([]string{key}, "evt_1", extreme, body, SignStandard(key, "evt_1", extreme, body), now, time.Minute); err == nil {
			t.Errorf("timestamp %d accepted", extreme)
		}
	}
}
