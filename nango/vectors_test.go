package nango

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loadVectors decodes a vector file; a missing or empty file fails the test,
// never skips it.
func loadVectors[T any](t testing.TB, name string) []T {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("vectors: %v", err)
	}
	var file struct {
		Cases []T `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("vectors %s: %v", path, err)
	}
	if len(file.Cases) == 0 {
		t.Fatalf("vectors %s: no cases", path)
	}
	return file.Cases
}

type signatureVector struct {
	Name      string `json:"name"`
	Key       string `json:"key"`
	Body      string `json:"body"`
	HMAC      string `json:"x_nango_hmac_sha256"`
	Signature string `json:"x_nango_signature"`
}

type standardVector struct {
	Name      string `json:"name"`
	Key       string `json:"signing_key"`
	Secret    string `json:"whsec_secret"`
	ID        string `json:"webhook_id"`
	Timestamp int64  `json:"webhook_timestamp"`
	Body      string `json:"body"`
	Signature string `json:"webhook_signature"`
}

func TestVectorsSignatures(t *testing.T) {
	webhooks := 0
	for _, v := range loadVectors[signatureVector](t, "signatures.json") {
		t.Run(v.Name, func(t *testing.T) {
			body := []byte(v.Body)
			if got := SignHMAC(v.Key, body); got != v.HMAC {
				t.Errorf("SignHMAC = %s, want %s", got, v.HMAC)
			}
			if got := SignLegacy(v.Key, body); got != v.Signature {
				t.Errorf("SignLegacy = %s, want %s", got, v.Signature)
			}
			if !VerifyHMAC(v.Key, body, v.HMAC) {
				t.Error("VerifyHMAC rejected the vector")
			}
			if !VerifyLegacy(v.Key, body, v.Signature) {
				t.Error("VerifyLegacy rejected the vector")
			}
			if v.Name == "unit_secret_payload" {
				return
			}
			webhooks++
			w, err := ParseWebhook(body)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			got, err := w.Canonical()
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			if string(got) != v.Body {
				t.Errorf("Canonical:\n got %s\nwant %s", got, v.Body)
			}
			// The bytes herald signs are the vector's bytes, so the
			// signatures of Canonical() match too.
			if SignHMAC(v.Key, got) != v.HMAC {
				t.Error("SignHMAC(Canonical()) differs from the vector")
			}
		})
	}
	if webhooks < 6 {
		t.Errorf("only %d webhook vectors found, want at least 6", webhooks)
	}
}

func TestVectorsStandardWebhooks(t *testing.T) {
	for _, v := range loadVectors[standardVector](t, "standard-webhooks.json") {
		t.Run(v.Name, func(t *testing.T) {
			body := []byte(v.Body)
			now := time.Unix(v.Timestamp, 0)
			if got := StandardSecret(v.Key); got != v.Secret {
				t.Errorf("StandardSecret = %s, want %s", got, v.Secret)
			}
			if got := SignStandard(v.Key, v.ID, v.Timestamp, body); got != v.Signature {
				t.Errorf("SignStandard = %s, want %s", got, v.Signature)
			}
			if got := SignStandard(v.Secret, v.ID, v.Timestamp, body); got != v.Signature {
				t.Errorf("SignStandard(whsec form) = %s, want %s", got, v.Signature)
			}
			if err := VerifyStandard([]string{v.Key}, v.ID, v.Timestamp, body, v.Signature, now, time.Minute); err != nil {
				t.Errorf("VerifyStandard: %v", err)
			}
			if err := VerifyStandard([]string{v.Secret}, v.ID, v.Timestamp, body, v.Signature, now, time.Minute); err != nil {
				t.Errorf("VerifyStandard(whsec key): %v", err)
			}
			// Two keys during a rotation, two entries in the header.
			header := SignStandard("old-key", v.ID, v.Timestamp, body) + " " + v.Signature
			if err := VerifyStandard([]string{"other", v.Key}, v.ID, v.Timestamp, body, header, now, time.Minute); err != nil {
				t.Errorf("VerifyStandard(rotation): %v", err)
			}

			tampered := append([]byte(nil), body...)
			tampered[len(tampered)-2] ^= 1
			if err := VerifyStandard([]string{v.Key}, v.ID, v.Timestamp, tampered, v.Signature, now, time.Minute); err != ErrSignatureMismatch {
				t.Errorf("tampered body: err = %v, want ErrSignatureMismatch", err)
			}
			if err := VerifyStandard([]string{"wrong-key"}, v.ID, v.Timestamp, body, v.Signature, now, time.Minute); err != ErrSignatureMismatch {
				t.Errorf("wrong key: err = %v, want ErrSignatureMismatch", err)
			}
			if err := VerifyStandard([]string{v.Key}, v.ID+"x", v.Timestamp, body, v.Signature, now, time.Minute); err != ErrSignatureMismatch {
				t.Errorf("wrong id: err = %v, want ErrSignatureMismatch", err)
			}
			stale := now.Add(10 * time.Minute)
			if err := VerifyStandard([]string{v.Key}, v.ID, v.Timestamp, body, v.Signature, stale, 5*time.Minute); err != ErrTimestampTooOld {
				t.Errorf("stale timestamp: err = %v, want ErrTimestampTooOld", err)
			}
			early := now.Add(-10 * time.Minute)
			if err := VerifyStandard([]string{v.Key}, v.ID, v.Timestamp, body, v.Signature, early, 5*time.Minute); err != ErrTimestampTooNew {
				t.Errorf("future timestamp: err = %v, want ErrTimestampTooNew", err)
			}
		})
	}
}

// TestVectorsVerifier: the Verifier accepts every vector's headers, in the
// case the sender wrote them and in upper case, decodes its body to the
// type it declares, and refuses it under any other key.
func TestVectorsVerifier(t *testing.T) {
	type request struct {
		name   string
		key    string
		body   []byte
		header http.Header
		now    time.Time
	}
	var requests []request
	for _, v := range loadVectors[signatureVector](t, "signatures.json") {
		for _, c := range []struct {
			suffix       string
			hmac, legacy string
		}{
			{"", v.HMAC, ""},
			{" upper-case", strings.ToUpper(v.HMAC), ""},
			{" legacy", "", v.Signature},
			{" legacy upper-case", "", strings.ToUpper(v.Signature)},
		} {
			h := http.Header{}
			if c.hmac != "" {
				h.Set(HeaderHMAC, c.hmac)
			}
			if c.legacy != "" {
				h.Set(HeaderLegacySignature, c.legacy)
			}
			requests = append(requests, request{v.Name + c.suffix, v.Key, []byte(v.Body), h, time.Now()})
		}
	}
	for _, v := range loadVectors[standardVector](t, "standard-webhooks.json") {
		h := http.Header{}
		h.Set(HeaderStandardID, v.ID)
		h.Set(HeaderStandardTimestamp, strconv.FormatInt(v.Timestamp, 10))
		h.Set(HeaderStandardSignature, v.Signature)
		requests = append(requests,
			request{v.Name + " standard", v.Key, []byte(v.Body), h, time.Unix(v.Timestamp, 0)},
			request{v.Name + " standard whsec", v.Secret, []byte(v.Body), h, time.Unix(v.Timestamp, 0)})
	}
	for _, r := range requests {
		t.Run(r.name, func(t *testing.T) {
			v := Verifier{Key: r.key, Now: func() time.Time { return r.now }}
			if _, err := v.VerifySignature(r.header, r.body); err != nil {
				t.Fatalf("VerifySignature: %v", err)
			}
			if r.name == "unit_secret_payload" || strings.HasPrefix(r.name, "unit_secret_payload ") {
				return
			}
			w, err := Decode(r.body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var declared struct {
				Type Type `json:"type"`
			}
			if err := json.Unmarshal(r.body, &declared); err != nil || w.WebhookType() != declared.Type {
				t.Errorf("Decode = %s, the body says %s", w.WebhookType(), declared.Type)
			}
			wrong := Verifier{Key: r.key + "x", Now: v.Now}
			if _, err := wrong.VerifySignature(r.header, r.body); !errors.Is(err, ErrBadSignature) {
				t.Errorf("another key: err = %v, want ErrBadSignature", err)
			}
			late := Verifier{Key: r.key, Now: func() time.Time { return r.now.Add(time.Hour) }}
			if _, err := late.VerifySignature(r.header, r.body); (r.header.Get(HeaderStandardSignature) != "") != errors.Is(err, ErrTimestampTooOld) {
				t.Errorf("an hour later: err = %v", err)
			}
		})
	}
}
