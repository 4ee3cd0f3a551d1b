package forwardtest

import (
	"strconv"
	"time"

	"github.com/heraldhq/herald/canonjson"
)

// Calendly signs each webhook with the subscription's signing key:
// Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex of
// HMAC-SHA256(key, t + "." + raw body)>
// (https://developer.calendly.com/api-docs/4c305798a61d3-webhook-signatures).
// The body is an invitee.created webhook; created_by, the URI of the
// subscription's creator, routes it to the connection whose
// connection_config.owner it is.
func init() {
	register("calendly", func(_ string, signedAt time.Time) Sample {
		const key = "pXm3Bq7vR2kT9wLz5cN8dF4hJ6gY1sA0eU3iO7tK2bV"
		const owner = "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"
		at := signedAt.UTC().Format("2006-01-02T15:04:05.000000Z")
		start := signedAt.UTC().Add(48 * time.Hour).Truncate(time.Hour)
		body := []byte(`{"created_at":"` + at + `","created_by":"` + owner + `","event":"invitee.created",` +
			`"payload":{"cancel_url":"https://calendly.com/cancellations/BBBBBBBBBBBBBBBB",` +
			`"created_at":"` + at + `","email":"ada.lovelace@example.com","event":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",` +
			`"first_name":"Ada","last_name":"Lovelace","name":"Ada Lovelace","new_invitee":null,"old_invitee":null,` +
			`"questions_and_answers":[{"answer":"Integration review","position":0,"question":"What would you like to discuss?"}],` +
			`"reschedule_url":"https://calendly.com/reschedulings/BBBBBBBBBBBBBBBB","rescheduled":false,` +
			`"scheduled_event":{"created_at":"` + at + `","end_time":"` + start.Add(30*time.Minute).Format(time.RFC3339) + `",` +
			`"event_memberships":[{"user":"` + owner + `","user_email":"host@example.com","user_name":"Host"}],` +
			`"event_type":"https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2","invitees_counter":{"active":1,"limit":1,"total":1},` +
			`"location":{"join_url":"https://calendly.zoom.us/j/85746065432","status":"pushed","type":"zoom"},` +
			`"name":"30 Minute Meeting","start_time":"` + start.Format(time.RFC3339) + `","status":"active",` +
			`"updated_at":"` + at + `","uri":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2"},` +
			`"status":"active","text_reminder_number":null,"timezone":"Europe/London",` +
			`"tracking":{"utm_campaign":null,"utm_source":null,"utm_medium":null,"utm_content":null,"utm_term":null,"salesforce_uuid":null},` +
			`"updated_at":"` + at + `","uri":"https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/BBBBBBBBBBBBBBBB"}}`)
		payload, err := canonjson.Canonicalize(body)
		if err != nil {
			panic(err)
		}
		t := strconv.FormatInt(signedAt.Unix(), 10)
		return Sample{
			Provider:         "calendly",
			Credentials:      map[string]string{"webhook_secret": key},
			Header:           JSONHeader("Calendly-Webhook-Signature", "t="+t+",v1="+Hex(HMACSHA256(key, t, ".", string(body)))),
			Body:             body,
			ConnectionConfig: map[string]any{"owner": owner},
			Payload:          payload,
			Timestamped:      true,
		}
	})
}
