package console

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func checkSecurityHeaders(t *testing.T, target string, w *httptest.ResponseRecorder) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": CSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", target, name, got, want)
		}
	}
}

func TestIndex(t *testing.T) {
	h := Handler()
	for _, target := range []string{"/ui/", "/ui/index.html"} {
		w := get(t, h, http.MethodGet, target)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", target, w.Code)
		}
		checkSecurityHeaders(t, target, w)
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
		if !strings.Contains(w.Body.String(), `<script type="module" src="js/app.js">`) {
			t.Errorf("GET %s: no app.js module in\n%s", target, w.Body)
		}
	}
	w := get(t, h, http.MethodGet, "/ui")
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q, want 301 to /ui/", w.Code, w.Header().Get("Location"))
	}
	checkSecurityHeaders(t, "/ui", w)
	if w := get(t, h, http.MethodHead, "/ui/"); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD /ui/: %d with %d bytes", w.Code, w.Body.Len())
	}
}

func TestCSPIsStrict(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q: %s", want, CSP)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(CSP, bad) {
			t.Errorf("CSP allows %q: %s", bad, CSP)
		}
	}
}

func TestAssets(t *testing.T) {
	h := Handler()
	for target, want := range map[string]string{
		"/ui/style.css":        "text/css; charset=utf-8",
		"/ui/favicon.svg":      "image/svg+xml",
		"/ui/js/app.js":        "text/javascript; charset=utf-8",
		"/ui/js/api.js":        "text/javascript; charset=utf-8",
		"/ui/js/ui.js":         "text/javascript; charset=utf-8",
		"/ui/js/list.js":       "text/javascript; charset=utf-8",
		"/ui/js/events.js":     "text/javascript; charset=utf-8",
		"/ui/js/deliveries.js": "text/javascript; charset=utf-8",
		"/ui/js/bulk.js":       "text/javascript; charset=utf-8",
		"/ui/js/settings.js":   "text/javascript; charset=utf-8",
	} {
		w := get(t, h, http.MethodGet, target)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d", target, w.Code)
			continue
		}
		checkSecurityHeaders(t, target, w)
		if ct := w.Header().Get("Content-Type"); ct != want {
			t.Errorf("GET %s: Content-Type %q, want %q", target, ct, want)
		}
		etag := w.Header().Get("ETag")
		if etag == "" || w.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: ETag %q, Cache-Control %q", target, etag, w.Header().Get("Cache-Control"))
			continue
		}
		if w := get(t, h, http.MethodGet, target, "If-None-Match", etag); w.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", target, w.Code)
		}
	}
}

func TestUnknownAndMethods(t *testing.T) {
	h := Handler()
	for _, target := range []string{"/ui/nope.js", "/ui/js/", "/ui/js", "/ui/static/index.html", "/ui/../console.go", "/other"} {
		w := get(t, h, http.MethodGet, target)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, w.Code)
		}
		checkSecurityHeaders(t, target, w)
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code != "not_found" || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: body %q (%v)", target, w.Body, err)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		w := get(t, h, m, "/ui/")
		if w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Body.String(), `"method_not_allowed"`) || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /ui/: %d %q", m, w.Code, w.Body)
		}
	}
}

// Every file in static/ is served: none has an extension the handler
// does not know.
func TestEveryFileServed(t *testing.T) {
	h := Handler()
	eachFile(t, func(name string, _ []byte) {
		if w := get(t, h, http.MethodGet, Prefix+name); w.Code != http.StatusOK {
			t.Errorf("static/%s is not served: %d", name, w.Code)
		}
	})
}

func eachFile(t *testing.T, f func(name string, body []byte)) {
	t.Helper()
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		f(strings.TrimPrefix(p, "static/"), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The console must work on servers without internet: nothing it loads
// may come from elsewhere. These patterns find a URL with a scheme or a
// protocol-relative one where a browser would fetch it.
var external = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\b(src|href|action|srcset|poster|data)\s*=\s*["']?\s*(https?:)?//`),
	regexp.MustCompile(`(?i)url\(\s*["']?\s*(https?:)?//`),
	regexp.MustCompile(`(?i)@import\s+(url\()?\s*["']?\s*(https?:)?//`),
	regexp.MustCompile(`(?i)\bimport\s*(\(\s*)?["'\x60]\s*(https?:)?//`),
	regexp.MustCompile(`(?i)\bfrom\s*["'\x60]\s*(https?:)?//`),
	regexp.MustCompile(`(?i)\b(fetch|EventSource|WebSocket|sendBeacon|open)\s*\(\s*["'\x60]\s*(https?:|wss?:)?//`),
	// Any absolute URL at all, but the SVG namespace (a name, not a fetch).
	regexp.MustCompile(`(?i)(https?|wss?):(//)?`),
}

func TestNoExternalURLs(t *testing.T) {
	eachFile(t, func(name string, body []byte) {
		text := strings.ReplaceAll(string(body), `xmlns="http://www.w3.org/2000/svg"`, "")
		for _, re := range external {
			if loc := re.FindStringIndex(text); loc != nil {
				t.Errorf("static/%s refers to something outside herald: %q", name, excerpt(text, loc))
			}
		}
	})
}

// The Content-Security-Policy forbids inline script and style: the files
// must not need them; and the key must never be stored.
func TestNoInlineCodeNoStorage(t *testing.T) {
	inlineScript := regexp.MustCompile(`(?i)<script\b[^>]*>\s*[^<\s]`)
	scriptTag := regexp.MustCompile(`(?i)<script\b[^>]*>`)
	inlineHandler := regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	inlineStyle := regexp.MustCompile(`(?i)<style\b|<[^>]+\sstyle\s*=|javascript:`)
	storage := regexp.MustCompile(`localStorage|sessionStorage|document\.cookie|indexedDB|innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(`)
	eachFile(t, func(name string, body []byte) {
		text := string(body)
		switch path.Ext(name) {
		case ".html":
			for _, re := range []*regexp.Regexp{inlineScript, inlineHandler, inlineStyle} {
				if loc := re.FindStringIndex(text); loc != nil {
					t.Errorf("static/%s: inline code the CSP refuses: %q", name, excerpt(text, loc))
				}
			}
			for _, m := range scriptTag.FindAllString(text, -1) {
				if !strings.Contains(m, "src=") {
					t.Errorf("static/%s: script without src: %q", name, m)
				}
			}
		case ".js":
			if loc := storage.FindStringIndex(text); loc != nil {
				t.Errorf("static/%s: %q: the key stays in memory, and no HTML is parsed from data", name, excerpt(text, loc))
			}
		}
	})
}

// Every relative module import names a file that exists: a typo would
// break the whole console in the browser only.
func TestImportsResolve(t *testing.T) {
	imp := regexp.MustCompile(`(?m)^import\s[^'"]*['"](\./[^'"]+)['"]`)
	files := map[string]bool{}
	eachFile(t, func(name string, _ []byte) { files[name] = true })
	eachFile(t, func(name string, body []byte) {
		if path.Ext(name) != ".js" {
			return
		}
		for _, m := range imp.FindAllStringSubmatch(string(body), -1) {
			if target := path.Join(path.Dir(name), m[1]); !files[target] {
				t.Errorf("static/%s imports %s: no such file", name, m[1])
			}
		}
	})
	if !files["js/app.js"] {
		t.Error("no js/app.js")
	}
}

func excerpt(s string, loc []int) string {
	return s[max(0, loc[0]-30):min(len(s), loc[1]+30)]
}
