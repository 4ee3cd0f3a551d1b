package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/nango"
)

func TestDeliveryLog(t *testing.T) { forEachStore(t, testDeliveryLog) }

func testDeliveryLog(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	rc := newReceiver(t, func(r received) reply {
		if strings.Contains(string(r.Body), `"connectionId":"conn-bad"`) {
			return reply{Status: 500, Body: "nope"}
		}
		return reply{Body: "ok:" + r.Header.Get("X-Herald-Delivery-Id")}
	})
	e := newEnv(t, h)
	e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "retry": map[string]any{"max_retries": 0}})

	type posted struct {
		eventID, deliveryID, typ, conn, pck string
		fail                                bool
	}
	var all []posted
	post := func(i int) {
		var body string
		var p posted
		switch i % 3 {
		case 0:
			p = posted{typ: "auth", conn: "conn-a", pck: "github"}
			body = strings.NewReplacer(`"connectionId":"c1"`, `"connectionId":"conn-a"`).Replace(validAuth)
		case 1:
			p = posted{typ: "sync", conn: "conn-b", pck: "hubspot"}
			body = strings.NewReplacer(`"connectionId":"c1"`, `"connectionId":"conn-b"`, `"providerConfigKey":"p"`, `"providerConfigKey":"hubspot"`).Replace(validSync)
		case 2:
			p = posted{typ: "async_action", conn: "conn-bad", pck: "slack", fail: true}
			body = fmt.Sprintf(`{"type":"async_action","connectionId":"conn-bad","providerConfigKey":"slack","payload":{"id":"a%d","statusUrl":"/action/a%d"}}`, i, i)
		}
		a := e.post(t, body)
		p.eventID, p.deliveryID = a.ID, a.Deliveries[0].ID
		all = append(all, p)
	}
	const total, firstGroup = 25, 12
	for i := 0; i < firstGroup; i++ {
		post(i)
	}
	// The two groups must have distinct created_at values (ms): wait until
	// the clock has moved past the first group's last event.
	var ev struct {
		CreatedAt string `json:"created_at"`
	}
	e.do(t, "GET", "/events/"+all[firstGroup-1].eventID, nil).decode(t, &ev)
	lastFirst := parseTime(t, ev.CreatedAt)
	waitFor(t, time.Second, "the clock to pass the first group", func() (bool, string) {
		return time.Now().After(lastFirst.Add(2 * time.Millisecond)), lastFirst.String()
	})
	for i := firstGroup; i < total; i++ {
		post(i)
	}
	for _, p := range all {
		want := "succeeded"
		if p.fail {
			want = "failed"
		}
		if d := e.waitDelivery(t, p.deliveryID, "succeeded", "failed"); d.Status != want {
			t.Fatalf("%s, want %s", d, want)
		}
	}
	newestFirst := make([]string, total)
	for i, p := range all {
		newestFirst[total-1-i] = p.deliveryID
	}
	ids := func(ds []delivery) []string {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = d.ID
		}
		return out
	}

	t.Run("every_field", func(t *testing.T) {
		r := e.do(t, "GET", "/deliveries?limit=1", nil)
		r.want(t, http.StatusOK)
		var page struct {
			Data []map[string]json.RawMessage `json:"data"`
		}
		r.decode(t, &page)
		if len(page.Data) != 1 {
			t.Fatalf("limit=1 gave %d deliveries", len(page.Data))
		}
		for _, k := range []string{"id", "event_id", "type", "url", "status", "attempts", "created_at", "updated_at",
			"next_attempt_at", "last_status_code", "last_error"} {
			if _, ok := page.Data[0][k]; !ok {
				t.Errorf("a listed delivery lacks %q: %s", k, r.Body)
			}
		}
	})

	t.Run("newest_first_all", func(t *testing.T) {
		ds, next := e.listDeliveries(t, "limit=200")
		if next != nil {
			t.Errorf("next_cursor %q on the only page, want null", *next)
		}
		if fmt.Sprint(ids(ds)) != fmt.Sprint(newestFirst) {
			t.Errorf("GET /deliveries order:\n got %v\nwant %v (newest first)", ids(ds), newestFirst)
		}
		def, _ := e.listDeliveries(t, "")
		if len(def) != total {
			t.Errorf("default page holds %d deliveries, want all %d", len(def), total)
		}
	})

	t.Run("three_pages", func(t *testing.T) {
		var got []string
		cursor := ""
		sizes := []int{}
		for page := 0; page < 5; page++ {
			q := "limit=10"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			ds, next := e.listDeliveries(t, q)
			sizes = append(sizes, len(ds))
			got = append(got, ids(ds)...)
			if next == nil {
				break
			}
			if *next != ds[len(ds)-1].ID {
				t.Logf("next_cursor %q is not the last id of the page (fine if opaque)", *next)
			}
			cursor = *next
		}
		if fmt.Sprint(sizes) != "[10 10 5]" {
			t.Errorf("page sizes %v, want [10 10 5]", sizes)
		}
		if fmt.Sprint(got) != fmt.Sprint(newestFirst) {
			t.Errorf("pages joined:\n got %v\nwant %v", got, newestFirst)
		}
	})

	count := func(pred func(posted) bool) int {
		n := 0
		for _, p := range all {
			if pred(p) {
				n++
			}
		}
		return n
	}
	filters := []struct {
		query string
		match func(posted) bool
	}{
		{"status=succeeded", func(p posted) bool { return !p.fail }},
		{"status=failed", func(p posted) bool { return p.fail }},
		{"status=pending", func(posted) bool { return false }},
		{"type=auth", func(p posted) bool { return p.typ == "auth" }},
		{"type=sync", func(p posted) bool { return p.typ == "sync" }},
		{"type=async_action&status=failed", func(p posted) bool { return p.typ == "async_action" }},
		{"type=forward", func(posted) bool { return false }},
		{"connection_id=conn-a", func(p posted) bool { return p.conn == "conn-a" }},
		{"provider_config_key=hubspot", func(p posted) bool { return p.pck == "hubspot" }},
		{"connection_id=conn-b&provider_config_key=github", func(posted) bool { return false }},
		{"status=succeeded&type=sync&connection_id=conn-b&provider_config_key=hubspot", func(p posted) bool { return p.typ == "sync" }},
	}
	for _, f := range filters {
		t.Run("filter_"+f.query, func(t *testing.T) {
			// Page in small steps so that cursors combine with filters.
			ds := e.allDeliveries(t, f.query+"&limit=3")
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				if f.match(all[i]) {
					want = append(want, all[i].deliveryID)
				}
			}
			if fmt.Sprint(ids(ds)) != fmt.Sprint(want) {
				t.Errorf("?%s:\n got %v\nwant %v", f.query, ids(ds), want)
			}
			if len(want) != count(f.match) {
				t.Fatal("test bug")
			}
		})
	}

	t.Run("since_until", func(t *testing.T) {
		first := e.delivery(t, all[0].deliveryID)
		lastOfFirst := e.delivery(t, all[firstGroup-1].deliveryID)
		boundary := e.delivery(t, all[firstGroup].deliveryID)
		if !parseTime(t, lastOfFirst.CreatedAt).Before(parseTime(t, boundary.CreatedAt)) {
			t.Fatalf("created_at %s (event %d) is not before %s (event %d) despite a 30 ms gap",
				lastOfFirst.CreatedAt, firstGroup-1, boundary.CreatedAt, firstGroup)
		}
		since := e.allDeliveries(t, "since="+url.QueryEscape(boundary.CreatedAt))
		if fmt.Sprint(ids(since)) != fmt.Sprint(newestFirst[:total-firstGroup]) {
			t.Errorf("since=%s:\n got %v\nwant the %d newest", boundary.CreatedAt, ids(since), total-firstGroup)
		}
		until := e.allDeliveries(t, "until="+url.QueryEscape(boundary.CreatedAt))
		if fmt.Sprint(ids(until)) != fmt.Sprint(newestFirst[total-firstGroup:]) {
			t.Errorf("until=%s:\n got %v\nwant the %d oldest", boundary.CreatedAt, ids(until), firstGroup)
		}
		window := e.allDeliveries(t, "since="+url.QueryEscape(first.CreatedAt)+"&until="+url.QueryEscape(boundary.CreatedAt)+"&type=auth")
		want := 0
		for _, p := range all[:firstGroup] {
			if p.typ == "auth" {
				want++
			}
		}
		if len(window) != want {
			t.Errorf("since&until&type=auth: %d deliveries, want %d", len(window), want)
		}
		// A window in the future is empty; a time zone offset is accepted.
		future := time.Now().Add(time.Hour).In(time.FixedZone("x", 2*3600)).Format(time.RFC3339)
		if ds, _ := e.listDeliveries(t, "since="+url.QueryEscape(future)); len(ds) != 0 {
			t.Errorf("since=%s: %d deliveries, want 0", future, len(ds))
		}
	})

	t.Run("event_and_delivery_detail", func(t *testing.T) {
		for _, p := range []posted{all[0], all[1], all[2]} {
			reqs := rc.For(p.deliveryID)
			if len(reqs) != 1 {
				t.Fatalf("delivery %s arrived %d times", p.deliveryID, len(reqs))
			}
			sentBody := reqs[0].Body

			r := e.do(t, "GET", "/events/"+p.eventID, nil)
			r.want(t, http.StatusOK)
			var ev struct {
				ID                string          `json:"id"`
				Type              string          `json:"type"`
				ConnectionID      string          `json:"connection_id"`
				ProviderConfigKey string          `json:"provider_config_key"`
				CreatedAt         string          `json:"created_at"`
				Skipped           *string         `json:"skipped"`
				Body              json.RawMessage `json:"body"`
				Deliveries        []delivery      `json:"deliveries"`
			}
			r.decode(t, &ev)
			if ev.ID != p.eventID || ev.Type != p.typ || ev.Skipped != nil {
				t.Errorf("GET /events/%s: %s", p.eventID, r.Body)
			}
			if ev.ConnectionID != p.conn || ev.ProviderConfigKey != p.pck {
				t.Errorf("GET /events/%s: connection %q/%q, want %q/%q", p.eventID, ev.ConnectionID, ev.ProviderConfigKey, p.conn, p.pck)
			}
			if !jsonEqual(ev.Body, sentBody) {
				t.Errorf("GET /events/%s body %s, want the webhook sent %s", p.eventID, ev.Body, sentBody)
			}
			if len(ev.Deliveries) != 1 || ev.Deliveries[0].ID != p.deliveryID || ev.Deliveries[0].URL != rc.URL("/hook") {
				t.Errorf("GET /events/%s deliveries %+v, want [%s]", p.eventID, ev.Deliveries, p.deliveryID)
			}

			d := e.delivery(t, p.deliveryID)
			if d.EventID != p.eventID || d.Type != p.typ || d.URL != rc.URL("/hook") || d.Attempts != 1 || d.NextAttemptAt != nil {
				t.Errorf("GET /deliveries/%s: %+v", p.deliveryID, d)
			}
			if !jsonEqual(d.Body, sentBody) {
				t.Errorf("GET /deliveries/%s body %s, want %s", p.deliveryID, d.Body, sentBody)
			}
			if parseTime(t, d.UpdatedAt).Before(parseTime(t, d.CreatedAt)) {
				t.Errorf("updated_at %s before created_at %s", d.UpdatedAt, d.CreatedAt)
			}
			if len(d.AttemptLog) != 1 {
				t.Fatalf("attempt_log %+v, want 1 entry", d.AttemptLog)
			}
			at := d.AttemptLog[0]
			parseTime(t, at.StartedAt)
			wantCode, wantResp := 200, "ok:"+p.deliveryID
			if p.fail {
				wantCode, wantResp = 500, "nope"
			}
			if at.Number != 1 || at.StatusCode == nil || *at.StatusCode != wantCode || at.DurationMS < 0 {
				t.Errorf("attempt_log[0] = %+v, want number 1 status %d", at, wantCode)
			}
			if at.ResponseBody == nil || *at.ResponseBody != wantResp {
				t.Errorf("attempt_log[0].response_body = %q, want %q", deref(at.ResponseBody), wantResp)
			}
			if d.LastStatusCode == nil || *d.LastStatusCode != wantCode {
				t.Errorf("%s, want last_status_code %d", d, wantCode)
			}
		}
	})

	t.Run("response_body_capped_at_4KiB", func(t *testing.T) {
		big := strings.Repeat("0123456789abcdef", 1024) // 16 KiB
		brc := newReceiver(t, func(received) reply { return reply{Body: big} })
		be := newEnv(t, h)
		be.patch(t, map[string]any{"primary_url": brc.URL("/big")})
		id := be.post(t, asyncEvent).Deliveries[0].ID
		d := be.waitDelivery(t, id, "succeeded", "failed")
		if len(d.AttemptLog) != 1 || d.AttemptLog[0].ResponseBody == nil {
			t.Fatalf("attempt_log %+v", d.AttemptLog)
		}
		rb := *d.AttemptLog[0].ResponseBody
		if len(rb) == 0 || len(rb) > 4096 || !strings.HasPrefix(big, rb) {
			t.Errorf("response_body of %d bytes, want a prefix of the answer of at most 4 KiB", len(rb))
		}
	})
}

func TestSigningKeyRotation(t *testing.T) { forEachStore(t, testSigningKeyRotation) }

func testSigningKeyRotation(t *testing.T) {
	t.Parallel()
	h := startHerald(t, heraldOpts{})
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

	rotate := func(t *testing.T, e *env) string {
		t.Helper()
		r := e.do(t, "POST", "/environment/webhook-signing-key/rotate", nil)
		r.want(t, http.StatusOK)
		var out struct {
			Data struct {
				Key string `json:"webhook_signing_key"`
			} `json:"data"`
		}
		r.decodeStrict(t, &out)
		if !uuidV4.MatchString(out.Data.Key) {
			t.Fatalf("rotated key %q is not a lowercase UUIDv4", out.Data.Key)
		}
		return out.Data.Key
	}

	t.Run("nango_headers", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, nil)
		e := newEnv(t, h)
		if !uuidV4.MatchString(e.SigningKey) {
			t.Errorf("webhook_signing_key %q is not a lowercase UUIDv4", e.SigningKey)
		}
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook")})
		keys := []string{e.SigningKey}
		for round := 0; round < 3; round++ {
			if round > 0 {
				k := rotate(t, e)
				h.addSecret(k)
				for _, old := range keys {
					if k == old {
						t.Fatalf("rotation returned a key used before: %s", k)
					}
				}
				keys = append(keys, k)
				var got struct {
					Key string `json:"webhook_signing_key"`
				}
				e.do(t, "GET", "/environment", nil).decode(t, &got)
				if got.Key != k {
					t.Errorf("GET /environment webhook_signing_key %q, want the rotated %q", got.Key, k)
				}
			}
			key := keys[len(keys)-1]
			a := e.post(t, asyncEvent)
			r := rc.waitDeliveryRequests(t, a.Deliveries[0].ID, 1)[0]
			checkSignedWith(t, r, key)
			for _, old := range keys[:len(keys)-1] {
				if nango.VerifyHMAC(old, r.Body, r.Header.Get("X-Nango-Hmac-Sha256")) {
					t.Errorf("round %d: webhook still signed with a previous key", round)
				}
			}
		}
	})

	// A retry made after the rotation returned is signed with the new key.
	t.Run("retry_after_rotation_uses_new_key", func(t *testing.T) {
		t.Parallel()
		rotated := make(chan struct{})
		rc := newReceiver(t, func(r received) reply {
			if r.N == 1 {
				<-rotated // answer the first attempt only after the rotation returned
				return reply{Status: 500}
			}
			return reply{}
		})
		e := newEnv(t, h)
		old := e.SigningKey
		e.patch(t, map[string]any{"primary_url": rc.URL("/hook"), "retry": map[string]any{"schedule_ms": []int{50}}})
		a := e.post(t, asyncEvent)
		id := a.Deliveries[0].ID
		first := rc.waitDeliveryRequests(t, id, 1)[0]
		checkSignedWith(t, first, old)
		key := rotate(t, e)
		h.addSecret(key)
		close(rotated)
		reqs := rc.waitDeliveryRequests(t, id, 2)
		checkSignedWith(t, reqs[1], key)
		if d := e.waitDelivery(t, id, "succeeded", "failed"); d.Status != "succeeded" {
			t.Errorf("%s, want succeeded", d)
		}
	})

	t.Run("standard_webhooks", func(t *testing.T) {
		t.Parallel()
		for _, v := range loadVectors(t, "standard-webhooks.json") {
			if got := "whsec_" + base64Std(v.SigningKey); got != v.Whsec {
				t.Fatalf("vector %s: whsec form %s, vector says %s", v.Name, got, v.Whsec)
			}
			if got := standardSig(v.SigningKey, v.WebhookID, v.Timestamp, []byte(v.Body)); got != v.Signature {
				t.Fatalf("vector %s: test signature %s, vector says %s", v.Name, got, v.Signature)
			}
			if err := nango.VerifyStandard([]string{v.Whsec}, v.WebhookID, v.Timestamp, []byte(v.Body), v.Signature,
				time.Unix(v.Timestamp, 0), 0); err != nil {
				t.Errorf("vector %s: nango.VerifyStandard: %v", v.Name, err)
			}
		}

		primary := newReceiver(t, statusSequence(500, 200))
		secondary := newReceiver(t, nil)
		e := newEnv(t, h)
		key0 := e.SigningKey
		e.patch(t, map[string]any{"primary_url": primary.URL("/p"), "secondary_url": secondary.URL("/s"),
			"standard_webhooks": true, "retry": map[string]any{"schedule_ms": []int{50}}})

		// checkStandard verifies the three headers against keys (in the
		// order their v1 entries must appear) and returns webhook-id.
		checkStandard := func(t *testing.T, r received, keys ...string) string {
			t.Helper()
			id := r.Header.Get("webhook-id")
			tsText := r.Header.Get("webhook-timestamp")
			sig := r.Header.Get("webhook-signature")
			ts, err := strconv.ParseInt(tsText, 10, 64)
			if err != nil {
				t.Fatalf("webhook-timestamp %q: %v", tsText, err)
			}
			if d := time.Since(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
				t.Errorf("webhook-timestamp %d is %v away from now", ts, d)
			}
			entries := strings.Fields(sig)
			if len(entries) != len(keys) {
				t.Fatalf("webhook-signature %q has %d entries, want %d", sig, len(entries), len(keys))
			}
			for i, k := range keys {
				if want := standardSig(k, id, ts, r.Body); entries[i] != want {
					t.Errorf("webhook-signature entry %d = %s, want %s", i, entries[i], want)
				}
				if err := nango.VerifyStandard([]string{k}, id, ts, r.Body, sig, time.Now(), 0); err != nil {
					t.Errorf("nango.VerifyStandard with key %d: %v", i, err)
				}
				if err := nango.VerifyStandard([]string{nango.StandardSecret(k)}, id, ts, r.Body, sig, time.Now(), 0); err != nil {
					t.Errorf("nango.VerifyStandard with key %d in whsec_ form: %v", i, err)
				}
			}
			if err := nango.VerifyStandard([]string{"11111111-1111-4111-8111-111111111111"}, id, ts, r.Body, sig, time.Now(), 0); !errors.Is(err, nango.ErrSignatureMismatch) {
				t.Errorf("nango.VerifyStandard with a wrong key: %v, want ErrSignatureMismatch", err)
			}
			checkSignedWith(t, r, keys[0])
			return id
		}

		a := e.post(t, asyncEvent)
		pReqs := primary.waitDeliveryRequests(t, a.Deliveries[0].ID, 2)
		sReqs := secondary.waitDeliveryRequests(t, a.Deliveries[1].ID, 1)
		for _, r := range append(pReqs, sReqs...) {
			if id := checkStandard(t, r, key0); id != a.ID {
				t.Errorf("webhook-id %q, want the event id %q on every attempt and URL", id, a.ID)
			}
		}

		key1 := rotate(t, e)
		h.addSecret(key1)
		b := e.post(t, asyncEvent)
		r := primary.waitDeliveryRequests(t, b.Deliveries[0].ID, 1)[0]
		if id := checkStandard(t, r, key1, key0); id != b.ID {
			t.Errorf("webhook-id %q, want %q", id, b.ID)
		}
		r = secondary.waitDeliveryRequests(t, b.Deliveries[1].ID, 1)[0]
		checkStandard(t, r, key1, key0)
	})
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
