// Package email sends approval requests by email with single-use decision
// links, and serves the pages those links open.
//
// A link never decides on GET: mail scanners and link previews fetch every
// URL in a message, and the upstream let them approve requests. GET shows a
// confirmation page (what the request is, what the link decides, a reason
// field and a button) and changes nothing; the button POSTs to the same
// URL and decides. The token is the credential (256 random bits, stored as
// its SHA-256), works once, and expires with the request at the latest;
// using one spends its sibling (each recipient gets an approve and a deny
// link per message). The decision is recorded as the recipient,
// "email:<address>".
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
)

// TLS modes of SMTP_TLS.
const (
	TLSStartTLS = "starttls" // STARTTLS required (port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // plain text: local development only
)

// Config configures email.
type Config struct {
	Host     string // SMTP_HOST
	Port     int    // SMTP_PORT
	Username string // SMTP_USERNAME; empty: no authentication
	Password string // SMTP_PASSWORD
	From     string // SMTP_FROM
	TLS      string // SMTP_TLS: TLSStartTLS (default), TLSImplicit or TLSNone
	// PublicURL returns the server's public URL, for decision links; it
	// is called for every message.
	PublicURL func() string
	// LinkTTL bounds a link's life (AGENTGATE_DECISION_LINK_TTL); a link
	// also expires with its request. Defaults to 24h.
	LinkTTL time.Duration
	// Timeout bounds one SMTP conversation. Defaults to 30s.
	Timeout time.Duration
}

//go:embed templates
var templates embed.FS

var (
	textMail = texttemplate.Must(texttemplate.ParseFS(templates, "templates/mail.txt"))
	htmlMail = htmltemplate.Must(htmltemplate.ParseFS(templates, "templates/mail.html"))
)

// Notifier sends emails. It implements channels.Notifier.
type Notifier struct {
	cfg   Config
	store channels.Store
	now   func() time.Time
}

var _ channels.Notifier = (*Notifier)(nil)

// NewNotifier returns a Notifier; store keeps the decision links.
func NewNotifier(cfg Config, store channels.Store) *Notifier {
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "" }
	}
	return &Notifier{cfg: cfg, store: store, now: time.Now}
}

// Kind implements channels.Notifier.
func (*Notifier) Kind() string { return channels.KindEmail }

// Updatable implements channels.Notifier: a sent email cannot change; its
// links show the request's current state instead.
func (*Notifier) Updatable() bool { return false }

// Update implements channels.Notifier; it is never called.
func (*Notifier) Update(context.Context, *channels.Notification, *channels.Message) error { return nil }

// NewToken returns a new link token: 32 random bytes, base64url (43
// characters).
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is how a token is stored.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// mailData fills the templates.
type mailData struct {
	Headline, Action, Urgency, UrgencyColor, Agent, Expires, ID, Policy string
	Params, Context                                                     string
	Escalated                                                           bool
	Step                                                                int
	ReasonRequired                                                      bool
	ApproveURL, DenyURL, DashboardURL, LinksExpire                      string
}

func urgencyColor(u approval.Urgency) string {
	switch u {
	case approval.UrgencyCritical:
		return "#dc2626"
	case approval.UrgencyHigh:
		return "#ea580c"
	case approval.UrgencyLow:
		return "#16a34a"
	}
	return "#ca8a04"
}

func policyText(pd approval.PolicyDecision) string {
	text := pd.PolicyName
	if pd.Reason != "" {
		if text != "" {
			text += ": "
		}
		text += pd.Reason
	}
	return channels.Truncate(text, 500)
}

// Post implements channels.Notifier: it stores a fresh approve/deny pair
// for the recipient (replacing the unused pair of an earlier, failed
// attempt) and sends the email.
func (n *Notifier) Post(ctx context.Context, no *channels.Notification, m *channels.Message) (channels.Sent, error) {
	r := m.Request
	expires := n.now().Add(n.cfg.LinkTTL)
	if !r.ExpiresAt.IsZero() && r.ExpiresAt.Before(expires) {
		expires = r.ExpiresAt
	}
	approveTok, denyTok := NewToken(), NewToken()
	err := n.store.WithChannelTx(ctx, func(tx channels.Tx) error {
		now := tx.Now()
		link := func(tok string, d approval.Status) *channels.DecisionLink {
			return &channels.DecisionLink{ID: approval.NewID("dln_"), TokenHash: HashToken(tok), RequestID: r.ID,
				NotificationID: no.ID, Recipient: no.Target, Decision: d, ExpiresAt: expires, CreatedAt: now}
		}
		return tx.DecisionLinkReplace(ctx, no.ID, []*channels.DecisionLink{link(approveTok, approval.StatusApproved), link(denyTok, approval.StatusDenied)})
	})
	if err != nil {
		return channels.Sent{}, err
	}
	base := strings.TrimRight(n.cfg.PublicURL(), "/")
	d := mailData{
		Headline:       channels.Headline(r),
		Action:         channels.Truncate(r.Action, 256),
		Urgency:        string(r.Urgency),
		UrgencyColor:   urgencyColor(r.Urgency),
		Agent:          channels.Truncate(r.AgentName, 200),
		Expires:        channels.FormatTime(r.ExpiresAt),
		ID:             r.ID,
		Policy:         policyText(r.PolicyDecision),
		Params:         channels.PrettyJSON(r.Params, 4000),
		Escalated:      no.Reason == channels.ReasonEscalated,
		Step:           no.Step,
		ReasonRequired: r.PolicyDecision.RequireReason,
		ApproveURL:     base + "/decide/" + approveTok,
		DenyURL:        base + "/decide/" + denyTok,
		DashboardURL:   m.DashboardURL,
		LinksExpire:    channels.FormatTime(expires),
	}
	if !channels.IsEmptyObject(r.Context) {
		d.Context = channels.PrettyJSON(r.Context, 2000)
	}
	var text, html bytes.Buffer
	if err := textMail.Execute(&text, d); err != nil {
		return channels.Sent{}, channels.Permanent(fmt.Errorf("email: render: %w", err))
	}
	if err := htmlMail.Execute(&html, d); err != nil {
		return channels.Sent{}, channels.Permanent(fmt.Errorf("email: render: %w", err))
	}
	msg := mail.NewMsg()
	if err := msg.From(n.cfg.From); err != nil {
		return channels.Sent{}, channels.Permanent(fmt.Errorf("email: SMTP_FROM: %w", err))
	}
	if err := msg.To(no.Target); err != nil {
		return channels.Sent{}, channels.Permanent(fmt.Errorf("email: recipient: %w", err))
	}
	subject := "[AgentGate] " + d.Headline
	if d.Escalated {
		subject = "[AgentGate] Escalated: " + d.Headline
	}
	msg.Subject(channels.Truncate(subject, 200))
	msg.SetMessageID()
	msg.SetDate()
	// Auto-Submitted keeps vacation responders from answering.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, text.String())
	msg.AddAlternativeString(mail.TypeTextHTML, html.String())
	c, err := n.client()
	if err != nil {
		return channels.Sent{}, channels.Permanent(err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return channels.Sent{}, classify(err)
	}
	return channels.Sent{ID: msg.GetMessageID()}, nil
}

// client builds an SMTP client for one conversation.
func (n *Notifier) client() (*mail.Client, error) {
	opts := []mail.Option{mail.WithPort(n.cfg.Port), mail.WithTimeout(n.cfg.Timeout)}
	switch n.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if n.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(n.cfg.Username), mail.WithPassword(n.cfg.Password))
	}
	c, err := mail.NewClient(n.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: SMTP client: %w", err)
	}
	return c, nil
}

// classify marks answers a retry cannot change (5xx: a refused recipient
// or sender, failed authentication) as permanent.
func classify(err error) error {
	var se *mail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return channels.Permanent(fmt.Errorf("email: %w", err))
	}
	return fmt.Errorf("email: %w", err)
}
