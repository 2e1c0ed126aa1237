package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
)

// Pages serves GET and POST /decide/{token}: the confirmation page and the
// decision. Both are public (the token is the credential); register them
// with a per-address limit of PageLimit (httpapi.Route.AddressLimit, which
// counts in the shared limiter, across replicas).
type Pages struct {
	svc *channels.Service
	log *slog.Logger
	now func() time.Time
	tpl *template.Template
	css template.CSS
	csp string
}

// PageLimit is how many decision-page requests (of each method) a client
// address may make per minute.
const PageLimit = 30

// maxForm bounds a decision form (a reason of at most 4000 characters).
const maxForm = 32 << 10

// NewPages returns the decision pages. now may be nil (time.Now).
func NewPages(svc *channels.Service, log *slog.Logger, now func() time.Time) *Pages {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	css, err := templates.ReadFile("templates/decide.css")
	if err != nil {
		panic("email: decide.css is not embedded: " + err.Error())
	}
	sum := sha256.Sum256(css)
	return &Pages{
		svc: svc,
		log: log,
		now: now,
		tpl: template.Must(template.ParseFS(templates, "templates/page.html")),
		css: template.CSS(css),
		// The one inline style is allowed by its hash; nothing else loads.
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
}

// pageRequest is what a page shows of a request.
type pageRequest struct {
	Action, Status, Urgency, Agent, Expires, ID, Policy, Params, Context string
}

type pageForm struct {
	Recipient, Reason, Error, Button, Tone string
	ReasonRequired                         bool
}

type page struct {
	Title, Tone, Message string
	Request              *pageRequest
	Form                 *pageForm
	DashboardURL         string
	CSS                  template.CSS
}

func toPageRequest(r *approval.Request, votes []string) *pageRequest {
	p := &pageRequest{
		Action:  channels.Truncate(r.Action, 256),
		Status:  channels.StatusLine(&channels.Message{Request: r, Approvals: votes}),
		Urgency: string(r.Urgency),
		Agent:   r.AgentName,
		Expires: channels.FormatTime(r.ExpiresAt),
		ID:      r.ID,
		Policy:  policyText(r.PolicyDecision),
		Params:  channels.PrettyJSON(r.Params, 20000),
	}
	if reason := channels.Reason(r); reason != "" && r.Decided() {
		p.Status += " — “" + reason + "”"
	}
	if !channels.IsEmptyObject(r.Context) {
		p.Context = channels.PrettyJSON(r.Context, 10000)
	}
	return p
}

// render writes a page with the pages' security headers.
func (p *Pages) render(w http.ResponseWriter, status int, pg *page) error {
	pg.CSS = p.css
	var buf bytes.Buffer
	if err := p.tpl.Execute(&buf, pg); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("Content-Security-Policy", p.csp)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (p *Pages) message(w http.ResponseWriter, status int, tone, title, msg string) error {
	return p.render(w, status, &page{Title: title, Tone: tone, Message: msg})
}

// validToken reports whether s looks like a token, so that junk costs no
// database read.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// state loads a token's link and request and renders the page of a link
// that cannot decide (unknown, used, expired, request decided); done
// reports whether it did.
func (p *Pages) state(ctx context.Context, w http.ResponseWriter, token string) (link *channels.DecisionLink, req *approval.Request, done bool, err error) {
	if !validToken(token) {
		return nil, nil, true, p.message(w, http.StatusNotFound, "warn", "This link is not valid",
			"Check that you opened the whole link from the email. Links from older emails stop working once used or expired.")
	}
	link, err = p.svc.Store().DecisionLinkGetByHash(ctx, HashToken(token))
	if errors.Is(err, approval.ErrNotFound) {
		return nil, nil, true, p.message(w, http.StatusNotFound, "warn", "This link is not valid",
			"Check that you opened the whole link from the email. Links from older emails stop working once used or expired.")
	}
	if err != nil {
		return nil, nil, true, err
	}
	req, err = p.svc.Approvals().Get(ctx, link.RequestID)
	if err != nil {
		return nil, nil, true, err
	}
	view := func(status int, tone, title, msg string) error {
		return p.render(w, status, &page{Title: title, Tone: tone, Message: msg, Request: p.view(ctx, req),
			DashboardURL: p.svc.DashboardURL(req.ID)})
	}
	switch {
	case !link.UsedAt.IsZero():
		return link, req, true, view(http.StatusGone, "warn", "This link was already used",
			"Each decision link works once. The request is shown as it stands now.")
	case !link.InvalidatedAt.IsZero():
		return link, req, true, view(http.StatusGone, "warn", "You already decided with the other link",
			"The approve and deny links of an email work once between them. The request is shown as it stands now.")
	case req.Decided():
		return link, req, true, view(http.StatusConflict, "warn", "This request was already decided",
			"Nothing is left to decide. The request is shown as it stands now.")
	case !p.now().Before(link.ExpiresAt):
		return link, req, true, view(http.StatusGone, "warn", "This link has expired",
			"Open the request in AgentGate to decide it there.")
	}
	return link, req, false, nil
}

// view renders req with its quorum votes.
func (p *Pages) view(ctx context.Context, req *approval.Request) *pageRequest {
	var votes []string
	if m, err := p.svc.Message(ctx, req, nil); err == nil {
		votes = m.Approvals
	}
	return toPageRequest(req, votes)
}

func (p *Pages) form(ctx context.Context, w http.ResponseWriter, status int, link *channels.DecisionLink, req *approval.Request, reason, errMsg string) error {
	f := &pageForm{Recipient: link.Recipient, Reason: reason, Error: errMsg, ReasonRequired: req.PolicyDecision.RequireReason,
		Button: "Approve", Tone: "ok"}
	title := "Approve this request?"
	if link.Decision == approval.StatusDenied {
		f.Button, f.Tone, title = "Deny", "no", "Deny this request?"
	}
	return p.render(w, status, &page{Title: title, Tone: f.Tone, Request: p.view(ctx, req), Form: f,
		Message:      "Nothing has been decided yet. Check the request, then press " + f.Button + ".",
		DashboardURL: p.svc.DashboardURL(req.ID)})
}

// Show is GET /decide/{token}: the confirmation page. It changes nothing.
func (p *Pages) Show(w http.ResponseWriter, r *http.Request) error {
	link, req, done, err := p.state(r.Context(), w, r.PathValue("token"))
	if done || err != nil {
		return err
	}
	return p.form(r.Context(), w, http.StatusOK, link, req, "", "")
}

// errSpent is the claim's refusal when the link was spent meanwhile.
var errSpent = approval.Errorf(approval.CodeConflict, "this link was already used")

// Decide is POST /decide/{token}: it decides as the link's recipient and
// spends the link (and its sibling) in the decision's transaction.
func (p *Pages) Decide(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	link, req, done, err := p.state(r.Context(), w, token)
	if done || err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return p.form(r.Context(), w, http.StatusBadRequest, link, req, "", "The form could not be read; try again.")
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	by := approval.Actor{ID: "email:" + link.Recipient, Name: link.Recipient, Type: approval.ActorHuman, Channel: channels.KindEmail}
	decided, err := p.svc.Approvals().Decide(r.Context(), by, link.RequestID, approval.DecideInput{
		Decision: link.Decision,
		Reason:   reason,
		Claim: func(ctx context.Context, tx approval.Tx, _ *approval.Request) error {
			ctx2, ok := tx.(channels.Tx)
			if !ok {
				return errors.New("email: the store's transaction cannot spend decision links")
			}
			spent, err := ctx2.DecisionLinkUse(ctx, link.ID, ctx2.Now())
			if err != nil {
				return err
			}
			if !spent {
				return errSpent
			}
			return nil
		},
	})
	if err != nil {
		switch approval.ErrorCode(err) {
		case approval.CodeInvalid:
			return p.form(r.Context(), w, http.StatusBadRequest, link, req, reason, approval.ErrorMessage(err))
		case approval.CodeForbidden:
			return p.render(w, http.StatusForbidden, &page{Title: "You may not decide this request", Tone: "warn",
				Message: approval.ErrorMessage(err), Request: p.view(r.Context(), req), DashboardURL: p.svc.DashboardURL(req.ID)})
		case approval.CodeConflict, approval.CodeNotFound:
			// Spent or decided meanwhile: show why, from the current state.
			if _, _, done, serr := p.state(r.Context(), w, token); done || serr != nil {
				return serr
			}
			return p.render(w, http.StatusConflict, &page{Title: "This decision did not go through", Tone: "warn",
				Message: approval.ErrorMessage(err), Request: p.view(r.Context(), req), DashboardURL: p.svc.DashboardURL(req.ID)})
		}
		p.log.Error("email: decision failed", "request_id", link.RequestID, "err", err)
		return p.message(w, http.StatusInternalServerError, "warn", "Something went wrong",
			"Your decision was not recorded and the link still works. Try again in a moment.")
	}
	title, tone := "Approved", "ok"
	msg := "Thank you. The agent has been told."
	switch {
	case link.Decision == approval.StatusDenied:
		title, tone = "Denied", "no"
	case decided.Status == approval.StatusPending:
		title = "Your approval was recorded"
		msg = "The request needs more approvals before the agent may act."
	}
	return p.render(w, http.StatusOK, &page{Title: title, Tone: tone, Message: msg, Request: p.view(r.Context(), decided),
		DashboardURL: p.svc.DashboardURL(decided.ID)})
}
