package web

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, srv *httptest.Server, method, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return res, string(b)
}

func TestRoutes(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	tests := []struct {
		name, method, path string
		status             int
		contentType        string // prefix
		cache              string // exact Cache-Control, when set
		bodyHas            string
	}{
		{"index", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", `id="pair-code"`},
		{"pair", "GET", "/pair?code=ABCD-2345", 200, "text/html; charset=utf-8", "no-cache", `id="pair-code"`},
		{"head index", "HEAD", "/", 200, "text/html", "no-cache", ""},
		{"app module", "GET", "/static/app.js", 200, "text/javascript; charset=utf-8", cacheStatic, "import"},
		{"style", "GET", "/static/style.css", 200, "text/css; charset=utf-8", cacheStatic, ":root"},
		{"icon", "GET", "/static/icon.svg", 200, "image/svg+xml", cacheStatic, "<svg"},
		{"uplot js", "GET", "/static/vendor/uplot/uPlot.iife.min.js", 200, "text/javascript", cacheStatic, "uPlot"},
		{"uplot css", "GET", "/static/vendor/uplot/uPlot.min.css", 200, "text/css", cacheStatic, ".uplot"},
		{"uplot license", "GET", "/static/vendor/uplot/LICENSE", 200, "text/plain", cacheStatic, "MIT"},
		{"wrong version is not immutable", "GET", "/static/app.js?v=old", 200, "text/javascript", cacheStatic, ""},
		{"missing static", "GET", "/static/nope.js", 404, "application/json", "", `"not_found"`},
		{"static root", "GET", "/static/", 404, "application/json", "", `"not_found"`},
		{"static dir", "GET", "/static/vendor/uplot", 404, "application/json", "", ""},
		{"static dir slash", "GET", "/static/vendor/", 404, "application/json", "", ""},
		{"dot dot", "GET", "/static/../web.go", 404, "application/json", "", ""},
		{"dot segment", "GET", "/static/./app.js", 404, "application/json", "", ""},
		{"double slash", "GET", "/static//app.js", 404, "application/json", "", ""},
		{"index by name", "GET", "/index.html", 404, "application/json", "", ""},
		{"other page", "GET", "/pair/x", 404, "application/json", "", ""},
		{"post index", "POST", "/", 405, "application/json", "", ""},
		{"delete static", "DELETE", "/static/app.js", 405, "application/json", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, srv, tc.method, tc.path, nil)
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", res.StatusCode, tc.status, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type = %q, want prefix %q", ct, tc.contentType)
			}
			if tc.cache != "" && res.Header.Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", res.Header.Get("Cache-Control"), tc.cache)
			}
			if !strings.Contains(body, tc.bodyHas) {
				t.Errorf("body does not contain %q", tc.bodyHas)
			}
			if tc.method == "HEAD" && body != "" {
				t.Errorf("HEAD returned a body of %d bytes", len(body))
			}
			if res.Header.Get("Content-Security-Policy") != "" {
				t.Errorf("handler set its own CSP; the relay owns that header")
			}
			if res.StatusCode == 200 {
				if res.Header.Get("ETag") == "" || res.Header.Get("Last-Modified") == "" {
					t.Errorf("missing validators: ETag %q, Last-Modified %q", res.Header.Get("ETag"), res.Header.Get("Last-Modified"))
				}
				if res.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("missing X-Content-Type-Options: nosniff")
				}
			}
			if res.StatusCode == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", res.Header.Get("Allow"))
			}
			if res.StatusCode >= 400 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("error body %q is not {\"error\":{code,message}}: %v", body, err)
				}
			}
		})
	}
}

func TestConditionalGet(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, path := range []string{"/", "/static/app.js"} {
		t.Run(path, func(t *testing.T) {
			res, _ := get(t, srv, "GET", path, nil)
			etag := res.Header.Get("ETag")
			if !regexp.MustCompile(`^"[A-Za-z0-9_-]+"$`).MatchString(etag) {
				t.Fatalf("ETag = %q, want a strong quoted tag", etag)
			}
			res, body := get(t, srv, "GET", path, map[string]string{"If-None-Match": etag})
			if res.StatusCode != http.StatusNotModified || body != "" {
				t.Errorf("If-None-Match: status %d, body %d bytes; want 304 and none", res.StatusCode, len(body))
			}
			res, _ = get(t, srv, "GET", path, map[string]string{"If-None-Match": `"other"`})
			if res.StatusCode != http.StatusOK {
				t.Errorf("other ETag: status %d, want 200", res.StatusCode)
			}
			res, _ = get(t, srv, "GET", path, map[string]string{"If-Modified-Since": res.Header.Get("Last-Modified")})
			if res.StatusCode != http.StatusNotModified {
				t.Errorf("If-Modified-Since: status %d, want 304", res.StatusCode)
			}
		})
	}
}

// localRef matches src and href attributes in the index.
var (
	attrRef    = regexp.MustCompile(`\s(?:src|href)="([^"]*)"`)
	inlineJS   = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`)
	styleAttr  = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=`)
	handler    = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	jsImport   = regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
	stableIDs  = []string{"pair-code", "pair-submit", "pair-error", "devices", "cpu-chart", "cpu-value", "mem-value", "socket-state", "log", "forget", "screen-card", "mirror", "mirror-note", "screenshot", "screenshot-status", "screenshot-download"}
	contentFor = map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
)

// TestIndexIsSelfContained checks what the relay's CSP demands of the page:
// only local assets, no inline script or style, and every reference resolves.
func TestIndexIsSelfContained(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	_, index := get(t, srv, "GET", "/", nil)

	t.Run("no inline script", func(t *testing.T) {
		for _, tag := range inlineJS.FindAllString(index, -1) {
			if !strings.Contains(tag, ` src="/static/`) {
				t.Errorf("script without a local src: %s", tag)
			}
		}
		if strings.Count(index, "<script") != len(inlineJS.FindAllString(index, -1)) {
			t.Errorf("unrecognised script tag")
		}
	})
	t.Run("no inline style", func(t *testing.T) {
		if strings.Contains(strings.ToLower(index), "<style") {
			t.Errorf("index has a <style> block")
		}
		if m := styleAttr.FindString(index); m != "" {
			t.Errorf("index has a style attribute: %s", m)
		}
		if m := handler.FindString(index); m != "" {
			t.Errorf("index has an inline event handler: %s", m)
		}
	})
	t.Run("stable ids", func(t *testing.T) {
		for _, id := range stableIDs {
			if !strings.Contains(index, `id="`+id+`"`) {
				t.Errorf("index lacks id=%q", id)
			}
		}
	})
	refs := attrRef.FindAllStringSubmatch(index, -1)
	if len(refs) < 5 {
		t.Fatalf("found only %d references in the index", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		t.Run("ref "+ref, func(t *testing.T) {
			if !strings.HasPrefix(ref, "/static/") {
				t.Fatalf("reference %q is not a local /static asset", ref)
			}
			if !strings.Contains(ref, "?v=") {
				t.Errorf("reference %q carries no version", ref)
			}
			res, _ := get(t, srv, "GET", ref, nil)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			if cc := res.Header.Get("Cache-Control"); cc != cacheVersioned {
				t.Errorf("Cache-Control = %q, want %q", cc, cacheVersioned)
			}
			for ext, ct := range contentFor {
				if strings.HasSuffix(strings.SplitN(ref, "?", 2)[0], ext) && !strings.HasPrefix(res.Header.Get("Content-Type"), ct) {
					t.Errorf("Content-Type = %q, want %q", res.Header.Get("Content-Type"), ct)
				}
			}
		})
	}
}

// TestModules checks every script and style sheet of the page: modules import
// only local modules that exist, and nothing uses what the CSP forbids or what
// would let a device name become markup.
func TestModules(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	forbidden := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", `setAttribute("style"`, "http://", "https://cdn", "//cdn"}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "static/vendor/") {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		src := string(b)
		t.Run(p, func(t *testing.T) {
			for _, f := range forbidden {
				if strings.HasSuffix(p, ".svg") {
					break // SVG names its namespace with an http:// URL; checked below
				}
				if strings.Contains(src, f) {
					t.Errorf("%s contains %q", p, f)
				}
			}
			if strings.HasSuffix(p, ".svg") && (strings.Contains(src, "<script") || strings.Contains(src, "href=")) {
				t.Errorf("%s has a script or a link", p)
			}
			if strings.HasSuffix(p, ".css") && strings.Contains(src, "@import") {
				t.Errorf("%s imports another style sheet", p)
			}
			for _, m := range jsImport.FindAllStringSubmatch(src, -1) {
				spec := m[1]
				if !strings.HasPrefix(spec, "./") {
					t.Errorf("import %q is not a relative local module", spec)
					continue
				}
				res, _ := get(t, srv, "GET", "/static/"+strings.TrimPrefix(spec, "./"), nil)
				if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") {
					t.Errorf("import %q: status %d, type %q", spec, res.StatusCode, res.Header.Get("Content-Type"))
				}
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadRejectsMissingAsset(t *testing.T) {
	fsys := fstest.MapFS{
		"index.html":    {Data: []byte(`<link rel="stylesheet" href="/static/gone.css">`)},
		"static/app.js": {Data: []byte("")},
	}
	if _, err := load(fsys); err == nil || !strings.Contains(err.Error(), "/static/gone.css") {
		t.Fatalf("load with a dangling reference: err = %v, want one naming /static/gone.css", err)
	}
}
