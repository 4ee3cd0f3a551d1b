package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/heraldhq/herald/internal/server"
)

// chromium is Debian's Chromium, which the browser test drives.
const chromium = "/usr/bin/chromium"

const adminKey = "console-test-admin-key"

// needBrowser skips the test when there is no Chromium, unless
// HERALD_TEST_BROWSER=required (as .ci/run sets it): then it fails.
func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err == nil {
		return
	}
	if os.Getenv("HERALD_TEST_BROWSER") == "required" {
		t.Fatalf("HERALD_TEST_BROWSER=required but %s is missing: apt-get install chromium", chromium)
	}
	t.Skipf("the console's browser test needs Chromium at %s (apt-get install chromium); skipped. "+
		"HERALD_TEST_BROWSER=required makes this a failure.", chromium)
}

// heraldUnderTest is herald running in this process on loopback, with a
// fresh SQLite database, as herald serve runs it.
type heraldUnderTest struct {
	t    *testing.T
	base string
}

func startHerald(t *testing.T) *heraldUnderTest {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := server.Config{
		Addr:             ln.Addr().String(),
		Database:         "sqlite:" + filepath.Join(t.TempDir(), "herald.db"),
		AdminKey:         adminKey,
		AllowPrivateURLs: true,
		ShutdownGrace:    time.Second,
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- server.Run(ctx, cfg, ln, log, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("herald: %v", err)
		}
	})
	h := &heraldUnderTest{t: t, base: "http://" + ln.Addr().String()}
	waitFor(t, "herald to answer /healthz", 15*time.Second, func() bool {
		res, err := http.Get(h.base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return h
}

// call sends a JSON request with a bearer key and decodes the answer into
// out (when not nil); it fails the test unless the status is want.
func (h *heraldUnderTest) call(method, path, key string, body any, want int, out any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsErrors collects the page's uncaught exceptions and console.error calls.
type jsErrors struct {
	mu   sync.Mutex
	list []string
}

func (e *jsErrors) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = "exception: " + d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		msg += fmt.Sprintf(" at %s:%d:%d", d.URL, d.LineNumber+1, d.ColumnNumber+1)
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		msg = "console.error: " + strings.Join(parts, " ")
	default:
		return
	}
	e.mu.Lock()
	e.list = append(e.list, msg)
	e.mu.Unlock()
}

func (e *jsErrors) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

// TestConsoleInBrowser signs in to the console in headless Chromium, finds
// a failed delivery, retries it once the receiver is fixed and sees it
// succeed, changes a setting, and checks the events view on a phone-width
// screen; any JavaScript error fails it.
func TestConsoleInBrowser(t *testing.T) {
	needBrowser(t)
	h := startHerald(t)

	// The receiver answers 500 until the test fixes it.
	var fixed atomic.Bool
	var mu sync.Mutex
	received := map[string]int{} // requests by X-Herald-Delivery-Id
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		received[r.Header.Get("X-Herald-Delivery-Id")]++
		mu.Unlock()
		if !fixed.Load() {
			http.Error(w, `{"error":"receiver is down"}`, http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer recv.Close()

	var env struct {
		ID        string `json:"id"`
		SecretKey string `json:"secret_key"`
	}
	h.call("POST", "/admin/environments", adminKey, map[string]any{"name": "console"}, http.StatusCreated, &env)
	key := env.SecretKey
	h.call("PATCH", "/environment/webhook", key, map[string]any{
		"primary_url": recv.URL + "/webhooks/nango", "retry": map[string]any{"max_retries": 0},
	}, http.StatusOK, nil)
	var accepted struct {
		ID         string `json:"id"`
		Deliveries []struct {
			ID string `json:"id"`
		} `json:"deliveries"`
	}
	h.call("POST", "/events", key, map[string]any{
		"type": "sync", "connectionId": "acme-corp", "providerConfigKey": "github",
		"syncName": "issues", "model": "Issue", "syncType": "INCREMENTAL", "success": true,
		"responseResults": map[string]int{"added": 3, "updated": 1, "deleted": 0},
		"modifiedAfter":   "2026-03-25T19:42:49.717Z",
	}, http.StatusAccepted, &accepted)
	if len(accepted.Deliveries) != 1 {
		t.Fatalf("event accepted with %d deliveries", len(accepted.Deliveries))
	}
	deliveryID := accepted.Deliveries[0].ID
	// A forward with long unbroken identifiers, to test the narrow layout.
	h.call("POST", "/events", key, map[string]any{
		"type": "forward", "connectionId": strings.Repeat("long-connection-id-", 6), "providerConfigKey": "hubspot-production-account",
		"payload": map[string]any{"objectId": 1234567, "note": strings.Repeat("x", 300)},
	}, http.StatusAccepted, nil)
	// A provider's webhook, forwarded: an event with its inbound log.
	h.call("PUT", "/integrations/shop", key, map[string]any{"provider": "unauthenticated"}, http.StatusOK, nil)
	h.call("PUT", "/connections/shop/acme-corp", key, map[string]any{}, http.StatusOK, nil)
	h.call("POST", "/webhook/"+env.ID+"/shop", "", map[string]any{"type": "order.paid", "connectionId": "acme-corp", "amount": 42}, http.StatusOK, nil)
	var inbound struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	h.call("GET", "/events?provider_config_key=shop&limit=1", key, nil, http.StatusOK, &inbound)
	if len(inbound.Data) != 1 {
		t.Fatalf("the provider's webhook is not among the events: %+v", inbound)
	}
	delivery := func() (d struct {
		Status   string `json:"status"`
		Attempts int    `json:"attempts"`
	}) {
		h.call("GET", "/deliveries/"+deliveryID, key, nil, http.StatusOK, &d)
		return d
	}
	waitFor(t, "the delivery to fail", 30*time.Second, func() bool { return delivery().Status == "failed" })

	// The browser.
	errs := &jsErrors{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(t.TempDir()),
			chromedp.WindowSize(1280, 900),
		)...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(errs.listen))
	defer cancelTab()
	ctx, cancel := context.WithTimeout(tab, 3*time.Minute)
	defer cancel()

	// Screenshots of each step go to a temporary directory, or to
	// HERALD_TEST_SCREENSHOTS to keep them.
	shots := os.Getenv("HERALD_TEST_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	step := 0
	shot := func(name string) {
		t.Helper()
		step++
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	// do runs steps; on failure it saves a screenshot and shows what the
	// page says (an error box, the JavaScript errors).
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			alerts, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](
				`[...document.querySelectorAll('[role=alert]')].map(e => e.textContent)`))
			shot("failed")
			t.Fatalf("%s: %v\nerrors shown: %q\nJavaScript errors: %q", what, err, alerts, errs.all())
		}
	}
	eval := func(expr string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	waitJS := func(what, expr string, limit time.Duration) {
		t.Helper()
		do(what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(100*time.Millisecond))(ctx, t)
			return err
		}))
	}

	// checkText fails on a value the page shows as "null", "undefined" or
	// "[object …]" outside JSON (a rendering slip), and on a field without
	// a label.
	checkText := func(where string) {
		t.Helper()
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
			const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), bad = [];
			while (w.nextNode()) {
				const n = w.currentNode;
				if (!n.parentElement.closest('pre') && /^(null|undefined|NaN)$|\[object /.test(n.data.trim())) bad.push(n.data);
			}
			return bad;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("%s shows %q", where, bad)
		}
		unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('input, select, textarea')].filter(e => !e.labels?.length && !e.ariaLabel).map(e => e.outerHTML)`))
		if err != nil {
			t.Fatal(err)
		}
		if len(unlabelled) > 0 {
			t.Errorf("%s has fields without a label: %q", where, unlabelled)
		}
	}

	// Sign in.
	do("open the console", chromedp.Navigate(h.base+"/ui"), chromedp.WaitVisible(chromedp.ID("signin-key")))
	if !eval(`document.body.textContent.includes('Reloading or closing the page signs you out')`) {
		t.Error("the sign-in page does not say that a reload signs out")
	}
	shot("sign-in")
	checkText("sign-in")
	do("sign in",
		chromedp.SendKeys(chromedp.ID("signin-key"), key),
		chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("nav")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="#/events/`+accepted.ID+`"]`)))
	shot("events")
	checkText("events")
	for _, leak := range []string{`location.href`, `document.cookie`, `JSON.stringify(localStorage)`, `JSON.stringify(sessionStorage)`} {
		if eval(leak + `.includes(` + jsString(key) + `)`) {
			t.Errorf("the secret key is in %s", leak)
		}
	}

	// The deliveries view, filtered on failed, and the failed delivery.
	do("open the failed delivery",
		chromedp.Click(chromedp.CSS(`nav a[href="#/deliveries"]`)),
		chromedp.WaitVisible(chromedp.ID("deliveries-status")),
		chromedp.SetValue(chromedp.ID("deliveries-status"), "failed"),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="#/deliveries/`+deliveryID+`"]`)))
	shot("deliveries-failed")
	do("open the delivery",
		chromedp.Click(chromedp.CSS(`a[href="#/deliveries/`+deliveryID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#delivery-status .badge.failed`)))
	if !eval(`document.querySelector('main').textContent.includes('receiver is down')`) {
		t.Error("the delivery's page does not show the receiver's answer")
	}
	shot("delivery-failed")
	checkText("delivery-failed")

	// Retry: Escape cancels the dialog; confirming sends the retry.
	fixed.Store(true)
	do("open the retry dialog", chromedp.Click(chromedp.ID("retry")), chromedp.WaitVisible(chromedp.CSS(`#confirm[open]`)))
	if !eval(`document.activeElement === document.querySelector('#confirm button')`) {
		t.Error("the dialog does not focus its first button")
	}
	shot("retry-dialog")
	do("close the dialog with Escape", chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("confirm")))
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	n := received[deliveryID]
	mu.Unlock()
	if n != 1 {
		t.Fatalf("Escape did not cancel: the receiver got the delivery %d times", n)
	}
	do("confirm the retry",
		chromedp.Click(chromedp.ID("retry")),
		chromedp.WaitVisible(chromedp.CSS(`#confirm[open]`)),
		chromedp.Click(chromedp.ID("confirm-ok")))
	waitJS("the delivery to succeed in the page",
		`document.querySelector('#delivery-status .badge')?.textContent === 'succeeded'`, 30*time.Second)
	shot("delivery-succeeded")
	checkText("delivery-succeeded")
	if d := delivery(); d.Status != "succeeded" || d.Attempts < 2 {
		t.Errorf("after the retry, the API says %+v", d)
	}

	// Settings: turn on_sync_error off and save.
	do("open the settings",
		chromedp.Click(chromedp.CSS(`nav a[href="#/settings"]`)),
		chromedp.WaitVisible(chromedp.ID("s-on_sync_error")))
	if !eval(`document.getElementById('s-on_sync_error').checked`) {
		t.Fatal("on_sync_error is not shown as on")
	}
	do("save a setting",
		chromedp.Click(chromedp.ID("s-on_sync_error")),
		chromedp.Click(chromedp.ID("settings-save")))
	waitJS("the settings to be saved", `document.getElementById('settings-message').textContent.includes('Saved')`, 10*time.Second)
	shot("settings-saved")
	checkText("settings-saved")
	var settings struct {
		WebhookSettings struct {
			OnSyncError bool `json:"on_sync_error"`
			Retry       struct {
				MaxRetries int `json:"max_retries"`
			} `json:"retry"`
			PrimaryURL string `json:"primary_url"`
		} `json:"webhook_settings"`
	}
	h.call("GET", "/environment", key, nil, http.StatusOK, &settings)
	if ws := settings.WebhookSettings; ws.OnSyncError || ws.Retry.MaxRetries != 0 || ws.PrimaryURL != recv.URL+"/webhooks/nango" {
		t.Errorf("after saving on_sync_error off, the settings are %+v", ws)
	}
	// A refused value shows herald's message next to the form.
	do("save a bad timeout",
		chromedp.SetValue(chromedp.ID("s-timeout_ms"), "999999"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('s-timeout_ms').removeAttribute('max')`),
		chromedp.Click(chromedp.ID("settings-save")))
	waitJS("the refusal to show", `document.getElementById('settings-message').textContent.includes('timeout_ms: must be between')`, 10*time.Second)
	shot("settings-refused")

	// Recover and replay over the last hour.
	do("open recover & replay",
		chromedp.Click(chromedp.CSS(`nav a[href="#/bulk"]`)),
		chromedp.WaitVisible(chromedp.ID("recover-since")),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const local = (ms) => { const d = new Date(ms); return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); };
			for (const form of ['recover', 'replay']) {
				document.getElementById(form + '-since').value = local(Date.now() - 3600e3);
				document.getElementById(form + '-until').value = local(Date.now() + 3600e3);
			}
			document.getElementById('replay-type').value = 'sync';
		})()`))
	for _, f := range []struct{ form, done string }{
		{"recover", `/Requeued \d+ deliver/`}, // the failed forwards
		{"replay", `/Queued 1 delivery\./`},   // the sync event, to the primary URL
	} {
		do(f.form,
			chromedp.Click(chromedp.CSS(`form[aria-labelledby="`+f.form+`-title"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#confirm[open]`)))
		if !eval(`document.getElementById('confirm-payload').textContent.includes('"since"')`) {
			t.Errorf("the %s confirmation does not show the body sent", f.form)
		}
		do("confirm "+f.form, chromedp.Click(chromedp.ID("confirm-ok")))
		waitJS(f.form+" to answer", f.done+`.test(document.querySelector('form[aria-labelledby="`+f.form+`-title"]').textContent)`, 10*time.Second)
	}
	shot("recover-replay")

	// A phone-width screen: no horizontal scroll.
	do("a 375 px screen",
		chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile),
		chromedp.Evaluate[chromedp.Void](`location.hash = '#/events'`),
		chromedp.WaitVisible(chromedp.CSS(`a[href="#/events/`+accepted.ID+`"]`)))
	for _, v := range []struct{ route, ready string }{
		{"#/events", `.rows li`},
		{"#/events/" + accepted.ID, `#replay`},
		{"#/events/" + inbound.Data[0].ID, `#replay`},
		{"#/deliveries/" + deliveryID, `#delivery-status`},
		{"#/connections/acme-corp", `.rows li`},
		{"#/settings", `#settings-save`},
		{"#/bulk", `#replay-title`},
	} {
		route := v.route
		do("open "+route, chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString(route)),
			chromedp.WaitVisible(chromedp.CSS(v.ready)))
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if w > 375 {
			t.Errorf("%s at 375 px: the page is %d px wide", route, w)
		}
		checkText(route)
		shot("phone-" + strings.NewReplacer("#/", "", "/", "-").Replace(route))
	}

	// The dark scheme follows the system's preference.
	do("dark scheme", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}), chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString("#/deliveries/"+deliveryID)),
		chromedp.WaitVisible(chromedp.ID("delivery-status")))
	if !eval(`getComputedStyle(document.body).backgroundColor === 'rgb(21, 22, 26)'`) {
		t.Error("prefers-color-scheme: dark does not darken the page")
	}
	shot("phone-dark-delivery")

	// Sign out: the sign-in form again.
	do("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin-key")))

	if e := errs.all(); len(e) > 0 {
		t.Errorf("JavaScript errors in the page:\n%s", strings.Join(e, "\n"))
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("the browser test ran out of time")
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
