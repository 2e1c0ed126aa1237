// Package discord posts approval requests to Discord channels as embeds
// with Approve and Deny buttons (through a small REST client with the bot
// token), keeps them up to date, and serves the HTTP interactions endpoint
// the buttons call, verified with Ed25519.
//
// Agent-supplied text is escaped for Discord's markdown, code blocks
// cannot be closed from inside, and no message may mention anyone.
package discord

import (
	"context"
	"strings"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
)

// Config configures Discord.
type Config struct {
	// Token is the bot token (DISCORD_BOT_TOKEN).
	Token string
	// PublicKey is the application's Ed25519 public key, hex
	// (DISCORD_PUBLIC_KEY).
	PublicKey string
	// APIURL is the REST API base (DISCORD_API_URL). Defaults to
	// DefaultAPIURL.
	APIURL string
	// Approvers, when set, are the Discord user ids that may decide through
	// Discord (DISCORD_APPROVERS). Rules' approver lists apply in any case.
	Approvers []string
}

// Custom id prefixes of the buttons, as the upstream named them.
const (
	approvePrefix = "approve:"
	denyPrefix    = "deny:"
	reasonPrefix  = "reason:" // modal: reason:<decision>:<id>
)

// Notifier posts and edits Discord messages. It implements
// channels.Notifier.
type Notifier struct {
	c *Client
}

var _ channels.Notifier = (*Notifier)(nil)

// NewNotifier returns a Notifier on c.
func NewNotifier(c *Client) *Notifier { return &Notifier{c: c} }

// Kind implements channels.Notifier.
func (*Notifier) Kind() string { return channels.KindDiscord }

// Updatable implements channels.Notifier.
func (*Notifier) Updatable() bool { return true }

// Post implements channels.Notifier.
func (n *Notifier) Post(ctx context.Context, no *channels.Notification, m *channels.Message) (channels.Sent, error) {
	msg, err := n.c.CreateMessage(ctx, no.Target, Render(m))
	if err != nil {
		return channels.Sent{}, err
	}
	ch := msg.ChannelID
	if ch == "" {
		ch = no.Target
	}
	return channels.Sent{Channel: ch, ID: msg.ID}, nil
}

// Update implements channels.Notifier.
func (n *Notifier) Update(ctx context.Context, no *channels.Notification, m *channels.Message) error {
	return n.c.EditMessage(ctx, no.ExternalChannel, no.ExternalID, Render(m))
}

// Embed colours.
const (
	colorApproved = 0x22c55e
	colorDenied   = 0xef4444
	colorExpired  = 0x6b7280
)

func color(r *approval.Request) int {
	switch r.Status {
	case approval.StatusApproved:
		return colorApproved
	case approval.StatusDenied:
		return colorDenied
	case approval.StatusExpired:
		return colorExpired
	}
	switch r.Urgency {
	case approval.UrgencyCritical:
		return 0xef4444
	case approval.UrgencyHigh:
		return 0xf97316
	case approval.UrgencyLow:
		return 0x22c55e
	}
	return 0xeab308
}

// markdown are the characters Discord's markdown gives meaning anywhere
// in a line; "@" is broken with a zero-width space, so that even a message
// that allowed mentions could not ping @everyone.
var markdown = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`,
	"[", `\[`, "]", `\]`, "<", `\<`, "@", "@\u200b")

// Escape makes s show literally in Discord markdown: inline markup is
// escaped everywhere, and line-start markup (headings, quotes, lists) at
// the start of each line.
func Escape(s string) string {
	lines := strings.Split(markdown.Replace(s), "\n")
	for i, l := range lines {
		if t := strings.TrimLeft(l, " "); t != "" && strings.ContainsRune("#>-", rune(t[0])) {
			lines[i] = l[:len(l)-len(t)] + `\` + t
		}
	}
	return strings.Join(lines, "\n")
}

// codeBlock shows s literally in a code block that s cannot close: every
// backtick is followed by a zero-width space.
func codeBlock(s string) string {
	return "```json\n" + strings.ReplaceAll(s, "`", "`\u200b") + "\n```"
}

// Render builds the message of m: an embed (what is asked, by whom, until
// when, params and context, where the request stands) and the buttons,
// disabled once the request is decided.
func Render(m *channels.Message) *MessageBody {
	r := m.Request
	desc := channels.Emoji(r.Status) + " " + Escape(channels.StatusLine(m))
	if reason := channels.Reason(r); reason != "" && r.Decided() {
		desc += "\n**Reason:** " + Escape(reason)
	}
	fields := []EmbedField{
		{Name: "Urgency", Value: channels.UrgencyEmoji(r.Urgency) + " " + string(r.Urgency), Inline: true},
		{Name: "Agent", Value: Escape(channels.Truncate(r.AgentName, 200)), Inline: true},
		{Name: "Expires", Value: channels.FormatTime(r.ExpiresAt), Inline: true},
		{Name: "Parameters", Value: codeBlock(channels.PrettyJSON(r.Params, 900))},
	}
	if len(r.ApprovedParams) > 0 {
		fields = append(fields, EmbedField{Name: "Approved parameters (edited)", Value: codeBlock(channels.PrettyJSON(r.ApprovedParams, 900))})
	}
	if !channels.IsEmptyObject(r.Context) {
		fields = append(fields, EmbedField{Name: "Context", Value: codeBlock(channels.PrettyJSON(r.Context, 600))})
	}
	if pd := r.PolicyDecision; pd.PolicyName != "" || pd.Reason != "" {
		text := pd.PolicyName
		if pd.Reason != "" {
			if text != "" {
				text += ": "
			}
			text += pd.Reason
		}
		if pd.RequireReason {
			text += " (a reason is required)"
		}
		fields = append(fields, EmbedField{Name: "Policy", Value: Escape(channels.Truncate(text, 900))})
	}
	e := Embed{
		Title:       channels.Truncate(Escape(channels.Headline(r)), 256),
		Description: channels.Truncate(desc, 4000),
		Color:       color(r),
		Fields:      fields,
		Footer:      &EmbedFooter{Text: r.ID},
		Timestamp:   r.CreatedAt.UTC().Format(approval.TimeFormat),
	}
	link := strings.HasPrefix(m.DashboardURL, "http://") || strings.HasPrefix(m.DashboardURL, "https://")
	if link {
		e.URL = m.DashboardURL
	}
	decided := r.Decided()
	row := Component{Type: ComponentActionRow, Components: []Component{
		{Type: ComponentButton, Style: ButtonSuccess, Label: "Approve", CustomID: approvePrefix + r.ID, Disabled: decided},
		{Type: ComponentButton, Style: ButtonDanger, Label: "Deny", CustomID: denyPrefix + r.ID, Disabled: decided},
	}}
	if link {
		row.Components = append(row.Components, Component{Type: ComponentButton, Style: ButtonLink, Label: "Open in AgentGate", URL: m.DashboardURL})
	}
	return &MessageBody{
		Embeds:          []Embed{e},
		Components:      []Component{row},
		AllowedMentions: &AllowedMentions{Parse: []string{}},
	}
}
