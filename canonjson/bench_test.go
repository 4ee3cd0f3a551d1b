package canonjson

import "testing"

// webhookBody is a realistic ~1 KB Nango sync webhook body.
var webhookBody = []byte(`{
  "from": "nango",
  "type": "sync",
  "connectionId": "8f3b1c2e-7d4a-4e5b-9c6d-0a1b2c3d4e5f",
  "providerConfigKey": "google-calendar",
  "syncName": "calendar-events",
  "syncVariant": "base",
  "model": "GoogleCalendarEvent",
  "success": true,
  "syncType": "INCREMENTAL",
  "modifiedAfter": "2024-05-14T09:31:07.123Z",
  "queryTimeStamp": "2024-05-14T09:31:07.123Z",
  "responseResults": {"added": 12, "updated": 3, "deleted": 0},
  "checkpoints": null,
  "environment": "prod",
  "tags": {"end_user_id": "u_1234567890", "end_user_email": "jane.doe@example.com", "organization_id": "org_42"},
  "endUser": {"endUserId": "u_1234567890", "endUserEmail": "jane.doe@example.com", "organizationId": "org_42", "tags": {}},
  "metadata": {
    "calendars": ["primary", "team@example.com"],
    "timezone": "Europe/Zürich",
    "window": {"start": 1715673600000, "end": 1716278400000, "ratio": 0.75},
    "note": "Quarterly review <Q2> & planning \u2014 “important”",
    "retries": [0, 1, 2],
    "flags": {"beta": false, "sampling": 0.1, "threshold": 1e-7}
  },
  "errors": [],
  "attempt": 1,
  "startedAt": "2024-05-14T09:31:00.000Z",
  "id": 987654321012
}`)

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(webhookBody)))
	for b.Loop() {
		if _, err := Parse(webhookBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	v, err := Parse(webhookBody)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(webhookBody)))
	for b.Loop() {
		if buf, err = Append(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalNewBuffer(b *testing.B) {
	v, err := Parse(webhookBody)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonicalize(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(webhookBody)))
	for b.Loop() {
		if _, err := Canonicalize(webhookBody); err != nil {
			b.Fatal(err)
		}
	}
}
