package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/httpapi"
)

//go:embed templates
var templateFS embed.FS

// pageCSP allows this origin's files only: no inline script or style, no
// frames, no foreign form targets.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// setPageHeaders sets the headers of every dashboard HTML response.
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Pages show who decided what: never keep them in a shared cache or
	// the back-forward cache of a signed-out browser.
	h.Set("Cache-Control", "no-store")
}

// templates holds one parsed template set per page: the layout, the
// partials and the page's own file.
type templates struct {
	pages map[string]*template.Template
}

// pageNames lists every page; parseTemplates fails when one is missing.
var pageNames = []string{"signin", "error", "queue", "request", "history", "audit", "policies", "policy", "keys", "webhooks", "webhook", "grants"}

// ui is what pages are made of: the parsed templates and the static files.
type ui struct {
	tpl    *templates
	assets *assets
}

func loadUI() (*ui, error) {
	as, err := loadAssets()
	if err != nil {
		return nil, err
	}
	tpl, err := parseTemplates(as)
	if err != nil {
		return nil, err
	}
	return &ui{tpl: tpl, assets: as}, nil
}

func parseTemplates(as *assets) (*templates, error) {
	funcs := template.FuncMap{
		"asset":    as.URL,
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"utc":      displayTime,
		"ago":      ago,
		"until":    until,
		"comma":    comma,
		"add":      func(a, b int) int { return a + b },
		"lower":    strings.ToLower,
		"title":    titleCase,
		"decision": decisionLabel,
		"grantFor": grantLabel,
		"shortID":  shortID,
		"deref": func(p *int) int {
			if p == nil {
				return 0
			}
			return *p
		},
		"dict": func(kv ...any) (map[string]any, error) {
			if len(kv)%2 != 0 {
				return nil, errors.New("dict needs key and value pairs")
			}
			m := make(map[string]any, len(kv)/2)
			for i := 0; i < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, errors.New("dict keys must be strings")
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout/*.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".html")
		clone, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t.pages[name], err = clone.ParseFS(templateFS, file); err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
	}
	for _, n := range pageNames {
		if t.pages[n] == nil {
			return nil, fmt.Errorf("dashboard: template %s.html is missing", n)
		}
	}
	return t, nil
}

// Page is what every template receives: the layout's fields and the
// page's own Data.
type Page struct {
	Title   string // the page's title, before " · AgentGate"
	Nav     string // the active navigation entry
	Me      *auth.Principal
	Pending int64 // pending requests, for the badge and the tab title
	Toast   string
	Assets  *assets
	Now     time.Time
	Data    any
	// Webhooks is true when the server has webhooks to manage.
	Webhooks bool

	pendingKnown bool // Pending was set by the handler (it may be 0)
}

// Can reports whether the signed-in key grants scope; templates hide
// what it does not.
func (p *Page) Can(scope string) bool { return p.Me != nil && p.Me.Has(auth.Scope(scope)) }

// TabTitle is the document title: the pending count first, so a
// background tab shows it.
func (p *Page) TabTitle() string {
	t := p.Title + " · AgentGate"
	if p.Title == "" {
		t = "AgentGate"
	}
	if p.Me != nil && p.Pending > 0 {
		t = "(" + strconv.FormatInt(p.Pending, 10) + ") " + t
	}
	return t
}

// render executes page name into a buffer and writes it with status, so a
// template error is a clean 500, never half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, v *view, status int, name string, p *Page) {
	u, err := d.ui()
	if err != nil {
		d.log.ErrorContext(r.Context(), "dashboard templates failed to load", "err", err)
		setPageHeaders(w)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.Assets = u.assets
	p.Now = d.now()
	p.Webhooks = d.webhooks != nil
	if v != nil {
		p.Me = v.p
		if !p.pendingKnown && p.Pending == 0 {
			if n, err := d.approvals.CountPending(r.Context()); err == nil {
				p.Pending = n
			}
		}
		if p.Toast == "" {
			p.Toast = toastFrom(r)
		}
	}
	var buf bytes.Buffer
	if err := u.tpl.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		d.log.ErrorContext(r.Context(), "dashboard template failed", "page", name, "request_id", httpapi.RequestID(r.Context()), "err", err)
		setPageHeaders(w)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorPage is the Data of the error template.
type errorPage struct {
	Status  int
	Heading string
	Message string
	SignIn  bool
}

// fail renders err: JSON for the script's fetch calls, else the error
// page. Internal errors are logged and shown as a generic message.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	status := httpapi.StatusOf(err)
	msg := approval.ErrorMessage(err)
	if status >= 500 {
		d.log.ErrorContext(r.Context(), "dashboard request failed", "request_id", httpapi.RequestID(r.Context()), "err", err)
		msg = "Something went wrong on the server. Try again in a moment."
	}
	if e, ok := errors.AsType[*approval.Error](err); ok && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	if wantsJSON(r) {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	d.render(w, r, v, status, "error", &Page{Title: http.StatusText(status), Data: errorPage{
		Status: status, Heading: errorHeading(status), Message: msg, SignIn: status == http.StatusUnauthorized,
	}})
}

func errorHeading(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusUnauthorized:
		return "Sign in required"
	case http.StatusConflict:
		return "Already decided"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusBadRequest:
		return "Check your input"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return http.StatusText(status)
}

// wantsJSON reports whether the script asked (fetch with Accept JSON).
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// crossOriginDenied answers a form posted from another site.
func (d *Dashboard) crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	d.fail(w, r, nil, approval.Errorf(approval.CodeForbidden,
		"This form was sent from another site, so it was refused. Open AgentGate directly and try again."))
}

// redirect answers a form post with 303 See Other (POST/redirect/GET).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// localPath returns p when it is a path on this site, else fallback; it
// keeps ?next= from sending people elsewhere.
func localPath(p, fallback string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n\t") {
		return fallback
	}
	return p
}
