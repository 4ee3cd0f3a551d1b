package nango

import (
	"testing"

	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/testkit"
)

const benchKey = "0196a0a0-0000-7000-8000-0000000000ff"

func benchBody(b *testing.B) []byte {
	body, err := canonjson.Canonicalize([]byte(testkit.SyncWebhook))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkSign signs one body in each of the three schemes herald sends.
func BenchmarkSign(b *testing.B) {
	body := benchBody(b)
	for _, c := range []struct {
		name string
		sign func()
	}{
		{"HMAC", func() { SignHMAC(benchKey, body) }},
		{"Legacy", func() { SignLegacy(benchKey, body) }},
		{"Standard", func() { SignStandard(benchKey, "0196a0a0-0000-7000-8000-000000000004", 1715673600, body) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				c.sign()
			}
		})
	}
}

// BenchmarkParseCanonical is what intake does with an event body: parse,
// validate and write the canonical bytes.
func BenchmarkParseCanonical(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(testkit.SyncWebhook)))
	for b.Loop() {
		w, err := ParseWebhook([]byte(testkit.SyncWebhook))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Canonical(); err != nil {
			b.Fatal(err)
		}
	}
}
