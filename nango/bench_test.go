package nango

import (
	"testing"

	"github.com/heraldhq/herald/canonjson"
)

// benchSync is a realistic Nango sync webhook (~900 bytes) as a producer
// posts it.
const benchSync = `{"from":"nango","type":"sync","connectionId":"8f3b1c2e-7d4a-4e5b-9c6d-0a1b2c3d4e5f",` +
	`"providerConfigKey":"google-calendar","syncName":"calendar-events","syncVariant":"base","model":"GoogleCalendarEvent",` +
	`"success":true,"syncType":"INCREMENTAL","modifiedAfter":"2024-05-14T09:31:07.123Z","queryTimeStamp":"2024-05-14T09:31:07.123Z",` +
	`"responseResults":{"added":12,"updated":3,"deleted":0},"checkpoints":null,"environment":"prod",` +
	`"tags":{"end_user_id":"u_1234567890","end_user_email":"jane.doe@example.com","organization_id":"org_42"},` +
	`"endUser":{"endUserId":"u_1234567890","endUserEmail":"jane.doe@example.com","organizationId":"org_42","tags":{}},` +
	`"metadata":{"calendars":["primary","team@example.com"],"timezone":"Europe/Zürich",` +
	`"window":{"start":1715673600000,"end":1716278400000,"ratio":0.75},"note":"Quarterly review <Q2> & planning",` +
	`"retries":[0,1,2],"flags":{"beta":false,"sampling":0.1,"threshold":1e-7}},"attempt":1,"id":987654321012}`

const benchKey = "0196a0a0-0000-7000-8000-0000000000ff"

func benchBody(b *testing.B) []byte {
	body, err := canonjson.Canonicalize([]byte(benchSync))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func BenchmarkSignHMAC(b *testing.B) {
	body := benchBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		SignHMAC(benchKey, body)
	}
}

func BenchmarkSignLegacy(b *testing.B) {
	body := benchBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		SignLegacy(benchKey, body)
	}
}

func BenchmarkSignStandard(b *testing.B) {
	body := benchBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		SignStandard(benchKey, "0196a0a0-0000-7000-8000-000000000004", 1715673600, body)
	}
}

// BenchmarkParseCanonical is what intake does with an event body: parse,
// validate and write the canonical bytes.
func BenchmarkParseCanonical(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchSync)))
	for b.Loop() {
		w, err := ParseWebhook([]byte(benchSync))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Canonical(); err != nil {
			b.Fatal(err)
		}
	}
}
