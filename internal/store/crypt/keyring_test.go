package crypt_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/store/crypt"
)

func b64(b byte, n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n)) }

func rawURL(b byte, n int) string {
	return base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{b}, n))
}

func fingerprint(b byte) string {
	sum := sha256.Sum256(bytes.Repeat([]byte{b}, crypt.KeySize))
	return hex.EncodeToString(sum[:4])
}

func TestParseKeys(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ids      []string // on success
		err      string   // substring of the error
	}{
		{name: "one standard", in: b64(1, 32), ids: []string{fingerprint(1)}},
		{name: "one raw URL-safe", in: rawURL(0xfb, 32), ids: []string{fingerprint(0xfb)}},
		{name: "list, newest first", in: b64(2, 32) + "," + rawURL(0xff, 32) + "," + b64(1, 32),
			ids: []string{fingerprint(2), fingerprint(0xff), fingerprint(1)}},
		{name: "spaces around keys", in: " " + b64(2, 32) + " , " + b64(1, 32) + "\n", ids: []string{fingerprint(2), fingerprint(1)}},
		{name: "empty", in: "", err: "no key"},
		{name: "blank", in: "  ", err: "no key"},
		{name: "bad base64", in: b64(1, 32) + ",not*base64", err: "key 2 of 2 is not base64"},
		{name: "URL-safe with padding", in: base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), err: "key 1 of 1 is not base64"},
		{name: "too short", in: b64(1, 16), err: "key 1 of 1 decodes to 16 bytes, want 32"},
		{name: "too long", in: b64(1, 32) + "," + b64(3, 33), err: "key 2 of 2 decodes to 33 bytes, want 32"},
		{name: "empty item in the middle", in: b64(1, 32) + ",," + b64(2, 32), err: "key 2 of 3 is empty"},
		{name: "trailing comma", in: b64(1, 32) + ",", err: "key 2 of 2 is empty"},
		{name: "leading comma", in: "," + b64(1, 32), err: "key 1 of 2 is empty"},
		{name: "repeated", in: b64(1, 32) + "," + b64(2, 32) + "," + rawURL(1, 32), err: "key 3 of 3 repeats key 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := crypt.ParseKeys(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseKeys: %v, want an error containing %q", err, tc.err)
				}
				if k.Len() != 0 {
					t.Errorf("a failed parse returned %d keys", k.Len())
				}
				for _, item := range strings.Split(tc.in, ",") {
					if item = strings.TrimSpace(item); len(item) > 4 && strings.Contains(err.Error(), item) {
						t.Errorf("error %q shows key material", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(k.IDs(), tc.ids) {
				t.Errorf("ids %v, want %v", k.IDs(), tc.ids)
			}
		})
	}
}

// TestKeyringPrints: every way of printing a keyring shows ids, not keys.
func TestKeyringPrints(t *testing.T) {
	k, err := crypt.ParseKeys(b64(7, 32))
	if err != nil {
		t.Fatal(err)
	}
	want := "crypt.Keyring[" + fingerprint(7) + "]"
	holder := struct{ Keys crypt.Keyring }{k}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d", "%q"} {
		if got := fmt.Sprintf(verb, k); got != want {
			t.Errorf("Sprintf(%s) = %q, want %q", verb, got, want)
		}
		if got := fmt.Sprintf(verb, holder); !strings.Contains(got, want) && verb != "%#v" {
			t.Errorf("Sprintf(%s) of a struct = %q", verb, got)
		}
	}
}

// FuzzParseKeys: ParseKeys never panics, and whatever it accepts is one
// 32-byte key per comma-separated item, named by its fingerprint.
func FuzzParseKeys(f *testing.F) {
	for _, seed := range []string{"", ",", b64(1, 32), rawURL(0xfb, 32), b64(1, 32) + "," + b64(2, 32), b64(1, 31),
		b64(1, 33), " " + b64(1, 32) + " ", "enc:v1:", "====", b64(1, 32) + "\n" + b64(2, 32), "\r\n" + b64(3, 32)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := crypt.ParseKeys(s)
		if err != nil {
			if k.Len() != 0 {
				t.Fatalf("error %v with %d keys", err, k.Len())
			}
			return
		}
		items := strings.Split(s, ",")
		if k.Len() != len(items) || k.Len() == 0 {
			t.Fatalf("%d keys from %d items", k.Len(), len(items))
		}
		for i, item := range items {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(item))
			if err != nil {
				raw, err = base64.RawURLEncoding.DecodeString(strings.TrimSpace(item))
			}
			if err != nil || len(raw) != crypt.KeySize {
				t.Fatalf("item %d accepted: %d bytes, %v", i+1, len(raw), err)
			}
			sum := sha256.Sum256(raw)
			if id := hex.EncodeToString(sum[:4]); k.IDs()[i] != id {
				t.Fatalf("key %d: id %s, want %s", i+1, k.IDs()[i], id)
			}
		}
	})
}
