package dashboard

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// signInPage is the Data of the sign-in template.
type signInPage struct {
	Next    string
	Error   string
	Notice  string
	Status  int
	TTL     string
	Retry   int // seconds, when rate limited
	Focused bool
}

// maxFormBytes bounds dashboard form bodies (a policy is the largest).
const maxFormBytes = 256 << 10

func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return approval.Errorf(approval.CodeTooLarge, "The form is too large (at most %d KiB).", maxFormBytes>>10)
		}
		return approval.Errorf(approval.CodeInvalid, "The form could not be read.")
	}
	return nil
}

func (d *Dashboard) signInPage(w http.ResponseWriter, r *http.Request, _ *view) error {
	next := localPath(r.URL.Query().Get("next"), "/")
	if _, _, err := d.sessions.Resolve(r.Context(), d.sessionToken(r)); err == nil {
		redirect(w, r, next)
		return nil
	}
	pg := signInPage{Next: next, TTL: humanTTL(d.sessions.TTL())}
	switch {
	case r.URL.Query().Get("ended") != "":
		pg.Notice = "Your session ended. Sign in again to continue."
	case r.URL.Query().Get("out") != "":
		pg.Notice = "You have signed out."
	}
	d.render(w, r, nil, http.StatusOK, "signin", &Page{Title: "Sign in", Data: pg})
	return nil
}

// signIn exchanges an API key for a session cookie. Attempts are limited
// per client address, so the form cannot be used to guess keys quickly.
func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request, _ *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	next := localPath(r.PostForm.Get("next"), "/")
	pg := signInPage{Next: next, TTL: humanTTL(d.sessions.TTL()), Focused: true}
	ok, retry, err := d.limiter.Allow(r.Context(), "signin:"+clientAddr(r))
	if err != nil {
		d.log.WarnContext(r.Context(), "sign-in limiter failed; allowing the attempt", "err", err)
		ok = true
	}
	if !ok {
		secs := int(retry.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		pg.Error = "Too many sign-in attempts from your address. Wait a minute and try again."
		pg.Retry = secs
		d.render(w, r, nil, http.StatusTooManyRequests, "signin", &Page{Title: "Sign in", Data: pg})
		return nil
	}
	token, sess, _, err := d.sessions.SignIn(r.Context(), r.PostForm.Get("key"), r.UserAgent())
	if err != nil {
		status := httpapi.StatusOf(err)
		if status >= 500 {
			return err
		}
		pg.Error = approval.ErrorMessage(err)
		if approval.ErrorCode(err) == approval.CodeUnauthenticated && strings.TrimSpace(r.PostForm.Get("key")) != "" {
			pg.Error = "That API key is not valid. Check it and try again."
		}
		d.render(w, r, nil, status, "signin", &Page{Title: "Sign in", Data: pg})
		return nil
	}
	d.setSessionCookie(w, r, token, sess.ExpiresAt)
	redirect(w, r, next)
	return nil
}

// signOut ends the session in the database, so the cookie is worthless
// even if it was copied.
func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := d.sessions.SignOut(r.Context(), v.p, v.token); err != nil {
		return err
	}
	d.clearSessionCookie(w, r)
	redirect(w, r, "/signin?out=1")
	return nil
}

// clientAddr is the peer's IP address. X-Forwarded-For is not trusted
// here: behind a proxy every client shares the proxy's limit, which errs
// on the safe side.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return strings.Trim(host, "[]")
}

func humanTTL(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		if h := int(d.Hours()); h != 1 {
			return strconv.Itoa(h) + " hours"
		}
		return "1 hour"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d.Minutes())) + " minutes"
	}
	return d.String()
}
