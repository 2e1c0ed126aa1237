package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var staticFS embed.FS

// contentType is the type of a static file, fixed here rather than taken
// from the machine's MIME database (which differs between systems and
// costs ~0.5 MB of heap to load).
func contentType(ext string) string {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return ""
}

// asset is one embedded static file and its fingerprint.
type asset struct {
	name  string
	hash  string // the first 16 hex digits of the content's SHA-256
	body  []byte
	ctype string
}

// assets are the fingerprinted static files. A file's URL carries its
// hash, so it can be cached for good: a new build gets new URLs.
type assets struct {
	byName map[string]*asset
}

func loadAssets() (*assets, error) {
	as := &assets{byName: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := path.Base(p)
		ctype := contentType(path.Ext(name))
		if ctype == "" {
			return fmt.Errorf("no content type for %s", name)
		}
		as.byName[name] = &asset{name: name, hash: hex.EncodeToString(sum[:])[:16], body: b, ctype: ctype}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: static files: %w", err)
	}
	for _, need := range []string{"app.css", "app.js", "icon.svg"} {
		if as.byName[need] == nil {
			return nil, fmt.Errorf("dashboard: static file %s is missing", need)
		}
	}
	return as, nil
}

// URL returns the fingerprinted URL of the static file name; templates
// call it as {{$.Assets.URL "app.css"}}.
func (as *assets) URL(name string) string {
	a := as.byName[name]
	if a == nil {
		return "/static/missing/" + name
	}
	return "/static/" + a.hash + "/" + name
}

// serveStatic serves GET /static/{hash}/{file}. The current file is
// served even when the hash is another build's (a page rendered by an
// older replica during a rolling deploy), but then it is cached only
// briefly.
func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	u, err := d.ui()
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard static files failed to load", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	a := u.assets.byName[r.PathValue("file")]
	if a == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	etag := `"` + a.hash + `"`
	h.Set("ETag", etag)
	if r.PathValue("hash") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=60")
	}
	// ServeContent answers If-None-Match with 304 from the ETag and
	// handles Range and HEAD.
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
