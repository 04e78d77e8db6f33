// Package web holds Tether's control page: one HTML document, its ES modules,
// its style sheet and a vendored chart library (uPlot), all embedded with
// go:embed. Nothing is loaded from a CDN and nothing is built at run time.
//
// The page follows a strict Content-Security-Policy (no inline scripts, no
// inline styles); the relay sets that header around Handler.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tether-desktop/tether/protocol"
)

//go:embed index.html static
var files embed.FS

// Cache-Control values. The index is revalidated on every load (cheap: it
// has an ETag). An asset requested with ?v=<its current version> (the index
// references its assets that way) never changes under that URL, so it is
// cached for a year; other asset requests (modules imported by relative path)
// are revalidated after a short while.
const (
	cacheIndex     = "no-cache"
	cacheVersioned = "public, max-age=31536000, immutable"
	cacheStatic    = "public, max-age=60"
)

// asset is one file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string // strong ETag, quoted
	version     string // short content hash, the value of ?v=
}

// site is the parsed content of the embedded files.
type site struct {
	index  asset
	static map[string]asset // by path below static/, e.g. "app.js"
}

// contentTypes maps file extensions to Content-Type. Anything else is served
// as plain text (the vendored LICENSE, README files).
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
}

// startTime is the Last-Modified of every file: embedded files carry no
// modification time, and the content cannot change while the process runs.
var startTime = time.Now().UTC().Truncate(time.Second)

// Handler returns the handler of the control page. It serves
//
//	GET /            the control page
//	GET /pair        the same page (it reads ?code= itself)
//	GET /static/...  the page's scripts, styles, icons and vendored libraries
//
// with Content-Type, ETag, Last-Modified and Cache-Control, answers
// conditional requests with 304, and answers 404 (a JSON error body, like the
// rest of the relay) for any other path and 405 for methods other than GET and
// HEAD. It does not set Content-Security-Policy; the relay does.
//
// The handler never blocks beyond writing the response and is safe for
// concurrent use. Handler panics only if the embedded files are broken, which
// the package's tests rule out.
func Handler() http.Handler {
	s, err := loadEmbedded()
	if err != nil {
		panic("web: " + err.Error())
	}
	return s
}

// loadEmbedded parses the embedded files once per process.
var loadEmbedded = sync.OnceValues(func() (*site, error) { return load(files) })

// assetRef matches the local asset URLs in index.html, to add ?v=.
var assetRef = regexp.MustCompile(`(?:src|href)="(/static/[^"?#]+)"`)

// load reads the embedded files and stamps the index's asset URLs with their
// versions.
func load(fsys fs.FS) (*site, error) {
	s := &site{static: map[string]asset{}}
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		s.static[strings.TrimPrefix(p, "static/")] = newAsset(b, path.Ext(p))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk static files: %w", err)
	}
	html, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return nil, fmt.Errorf("read index.html: %w", err)
	}
	var missing []string
	html = assetRef.ReplaceAllFunc(html, func(m []byte) []byte {
		sub := assetRef.FindSubmatch(m)
		name := strings.TrimPrefix(string(sub[1]), "/static/")
		a, ok := s.static[name]
		if !ok {
			missing = append(missing, string(sub[1]))
			return m
		}
		return bytes.Replace(m, sub[1], []byte(string(sub[1])+"?v="+a.version), 1)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("index.html references missing files: %s", strings.Join(missing, ", "))
	}
	s.index = newAsset(html, ".html")
	return s, nil
}

func newAsset(b []byte, ext string) asset {
	sum := sha256.Sum256(b)
	ct, ok := contentTypes[ext]
	if !ok {
		ct = "text/plain; charset=utf-8"
	}
	return asset{
		body:        b,
		contentType: ct,
		etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`,
		version:     base64.RawURLEncoding.EncodeToString(sum[:9]),
	}
}

// ServeHTTP implements http.Handler.
func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	var a asset
	var cache string
	switch {
	case p == "/" || p == "/pair":
		a, cache = s.index, cacheIndex
	case strings.HasPrefix(p, "/static/"):
		name := strings.TrimPrefix(p, "/static/")
		var ok bool
		if a, ok = s.static[name]; !ok || !fs.ValidPath(name) {
			writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such file")
			return
		}
		cache = cacheStatic
		if v := r.URL.Query().Get("v"); v != "" && v == a.version {
			cache = cacheVersioned
		}
	default:
		writeError(w, http.StatusNotFound, protocol.CodeNotFound, "no such page")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, protocol.CodeBadRequest, "method not allowed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", cache)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers If-None-Match / If-Modified-Since and Range.
	http.ServeContent(w, r, "", startTime, bytes.NewReader(a.body))
}

// writeError writes the relay's JSON error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(protocol.ErrorBody{Error: protocol.Error{Code: code, Message: msg}})
}
