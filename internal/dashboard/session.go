package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// Cookie names. Over TLS the __Host- prefix makes the browser refuse the
// cookie unless it is Secure, host-only and Path=/, so a sibling
// subdomain cannot plant or overwrite it.
const (
	cookiePlain  = "agentgate_session"
	cookieSecure = "__Host-agentgate_session"
)

// view is what a page handler knows about the signed-in person.
type view struct {
	p     *auth.Principal
	sess  *auth.Session
	token string
}

// handler is a page: it writes its response or returns an error that
// fail renders.
type handler func(w http.ResponseWriter, r *http.Request, v *view) error

func (d *Dashboard) secureRequest(r *http.Request) bool { return r.TLS != nil || d.cfg.SecureCookies }

func (d *Dashboard) cookieName(r *http.Request) string {
	if d.secureRequest(r) {
		return cookieSecure
	}
	return cookiePlain
}

func (d *Dashboard) sessionToken(r *http.Request) string {
	c, err := r.Cookie(d.cookieName(r))
	if err != nil {
		return ""
	}
	return c.Value
}

func (d *Dashboard) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name:     d.cookieName(r),
		Value:    token,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(time.Until(expires).Seconds()),
		HttpOnly: true,
		Secure:   d.secureRequest(r),
		SameSite: http.SameSiteLaxMode,
	})
}

func (d *Dashboard) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: d.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: d.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// public wraps a page anyone may open (sign-in). Posts are still refused
// when they come from another site (login CSRF).
func (d *Dashboard) public(h handler) http.Handler {
	return d.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		if err := h(w, r, nil); err != nil {
			d.fail(w, r, nil, err)
		}
	}))
}

// page wraps a page that needs a session whose key grants scope. The
// session and its key are re-read on every request. Posts from other
// sites are refused before the handler runs.
func (d *Dashboard) page(scope auth.Scope, h handler) http.Handler {
	return d.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		token := d.sessionToken(r)
		p, sess, err := d.sessions.Resolve(r.Context(), token)
		if err != nil {
			if approval.ErrorCode(err) != approval.CodeUnauthenticated {
				d.fail(w, r, nil, errors.Join(approval.Errorf(approval.CodeUnavailable, "sign-in is unavailable"), err))
				return
			}
			if token != "" {
				d.clearSessionCookie(w, r)
			}
			if r.Method == http.MethodGet && !wantsJSON(r) && r.Header.Get("Accept") != "text/event-stream" {
				q := url.Values{"next": {r.URL.RequestURI()}}
				if token != "" {
					q.Set("ended", "1")
				}
				redirect(w, r, "/signin?"+q.Encode())
				return
			}
			d.fail(w, r, nil, err)
			return
		}
		httpapi.SetLogKey(r.Context(), p.KeyID)
		v := &view{p: p, sess: sess, token: token}
		if !p.Has(scope) {
			d.fail(w, r, v, approval.Errorf(approval.CodeForbidden, "Your API key (%s) lacks the %q scope this page needs.", p.Name, scope))
			return
		}
		r = r.WithContext(auth.NewContext(r.Context(), p))
		if err := h(w, r, v); err != nil {
			d.fail(w, r, v, err)
		}
	}))
}

// actor is the signed-in person as the approval service records them:
// the key's name, on the dashboard channel.
func (v *view) actor() approval.Actor { return v.p.Actor("dashboard", approval.ActorHuman) }
