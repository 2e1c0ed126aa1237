// Package slack posts approval requests to Slack as Block Kit messages with
// Approve and Deny buttons, keeps them up to date, and serves the
// interactivity endpoint their buttons and modals call.
//
// Agent-supplied text (the action, params, context) is never put in mrkdwn:
// it goes in plain_text objects and preformatted rich text, which Slack
// shows literally, so an agent cannot format, link or mention through it.
// The only mrkdwn is our own labels.
package slack

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
)

// Config configures Slack.
type Config struct {
	// Token is the bot token (SLACK_BOT_TOKEN, xoxb-…).
	Token string
	// SigningSecret verifies interaction payloads (SLACK_SIGNING_SECRET).
	SigningSecret string
	// APIURL replaces https://slack.com/api/ (SLACK_API_URL), for fakes
	// and proxies. It must end with a slash.
	APIURL string
	// Approvers, when set, are the Slack user ids that may decide through
	// Slack (SLACK_APPROVERS). Rules' approver lists apply in any case.
	Approvers []string
	// HTTPClient is the client of Web API calls and response_url posts.
	HTTPClient *http.Client
}

// Action id prefixes of the buttons, as the upstream named them, so that
// messages it posted keep working.
const (
	approvePrefix = "approve_"
	denyPrefix    = "deny_"
	openPrefix    = "open_"
)

// Notifier posts and updates Slack messages. It implements
// channels.Notifier.
type Notifier struct {
	api *slack.Client
}

var _ channels.Notifier = (*Notifier)(nil)

// NewClient returns the Web API client of cfg.
func NewClient(cfg Config) *slack.Client {
	opts := []slack.Option{}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, slack.OptionHTTPClient(cfg.HTTPClient))
	}
	return slack.New(cfg.Token, opts...)
}

// NewNotifier returns a Notifier on api.
func NewNotifier(api *slack.Client) *Notifier { return &Notifier{api: api} }

// Kind implements channels.Notifier.
func (*Notifier) Kind() string { return channels.KindSlack }

// Updatable implements channels.Notifier: Slack messages are edited with
// chat.update.
func (*Notifier) Updatable() bool { return true }

// Post implements channels.Notifier with chat.postMessage.
func (n *Notifier) Post(ctx context.Context, no *channels.Notification, m *channels.Message) (channels.Sent, error) {
	ch, ts, err := n.api.PostMessageContext(ctx, no.Target, messageOptions(m)...)
	if err != nil {
		return channels.Sent{}, classify(err)
	}
	return channels.Sent{Channel: ch, ID: ts}, nil
}

// Update implements channels.Notifier with chat.update.
func (n *Notifier) Update(ctx context.Context, no *channels.Notification, m *channels.Message) error {
	_, _, _, err := n.api.UpdateMessageContext(ctx, no.ExternalChannel, no.ExternalID, messageOptions(m)...)
	return classify(err)
}

func messageOptions(m *channels.Message) []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionBlocks(Blocks(m)...),
		// The notification text: escaped (&, <, >) so that it can neither
		// link nor mention.
		slack.MsgOptionText(channels.Emoji(m.Request.Status)+" "+channels.Headline(m.Request), true),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}
}

// permanentErrors are Slack API errors that a retry cannot fix.
var permanentErrors = []string{"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed",
	"account_inactive", "token_revoked", "token_expired", "no_permission", "missing_scope", "message_not_found",
	"cant_update_message", "edit_window_closed", "msg_too_long", "invalid_blocks", "invalid_arguments",
	"restricted_action", "channel_is_archived", "ekm_access_denied", "team_access_not_granted"}

// classify marks the failures a retry cannot fix as permanent.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && slices.Contains(permanentErrors, se.Err) {
		return channels.Permanent(errors.New("slack: " + se.Err))
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusTooManyRequests && sc.Code != http.StatusRequestTimeout {
		return channels.Permanent(err)
	}
	return err
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// preformatted shows s literally, in a code box.
func preformatted(blockID, s string) slack.Block {
	return slack.NewRichTextBlock(blockID, &slack.RichTextPreformatted{
		Type:     slack.RTEPreformatted,
		Elements: []slack.RichTextSectionElement{slack.NewRichTextSectionTextElement(s, nil)},
	})
}

// Blocks renders m as Block Kit: what is asked, by whom, until when, the
// params and context (literal text), the policy's reason, where the request
// stands, and the buttons (Approve and Deny while it is pending; a link to
// the dashboard always).
func Blocks(m *channels.Message) []slack.Block {
	r := m.Request
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(channels.Truncate(channels.Emoji(r.Status)+" "+channels.Headline(r), 150))),
	}
	fields := []*slack.TextBlockObject{
		plain("Urgency: " + channels.UrgencyEmoji(r.Urgency) + " " + string(r.Urgency)),
		plain("Agent: " + channels.Truncate(r.AgentName, 200)),
		plain("Expires: " + channels.FormatTime(r.ExpiresAt)),
		plain("Request: " + r.ID),
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Parameters*"), nil, nil), preformatted("params", channels.PrettyJSON(r.Params, 2500)))
	if len(r.ApprovedParams) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Approved parameters* (edited by the approver)"), nil, nil),
			preformatted("approved_params", channels.PrettyJSON(r.ApprovedParams, 2000)))
	}
	if !channels.IsEmptyObject(r.Context) {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Context*"), nil, nil), preformatted("context", channels.PrettyJSON(r.Context, 1000)))
	}
	if pd := r.PolicyDecision; pd.PolicyName != "" || pd.Reason != "" {
		text := "Policy"
		if pd.PolicyName != "" {
			text += " " + pd.PolicyName
		}
		if pd.Reason != "" {
			text += ": " + pd.Reason
		}
		if pd.RequireReason {
			text += " (a reason is required)"
		}
		blocks = append(blocks, slack.NewContextBlock("policy", plain(channels.Truncate(text, 1000))))
	}
	status := channels.Emoji(r.Status) + " " + channels.StatusLine(m)
	if reason := channels.Reason(r); reason != "" && r.Decided() {
		status += "\nReason: " + reason
	}
	blocks = append(blocks, slack.NewSectionBlock(plain(channels.Truncate(status, 2900)), nil, nil, slack.SectionBlockOptionBlockID("status")))

	var buttons []slack.BlockElement
	if r.Status == approval.StatusPending {
		approve := slack.NewButtonBlockElement(approvePrefix+r.ID, r.ID, plain("Approve"))
		approve.Style = slack.StylePrimary
		deny := slack.NewButtonBlockElement(denyPrefix+r.ID, r.ID, plain("Deny"))
		deny.Style = slack.StyleDanger
		buttons = append(buttons, approve, deny)
	}
	if strings.HasPrefix(m.DashboardURL, "http://") || strings.HasPrefix(m.DashboardURL, "https://") {
		open := slack.NewButtonBlockElement(openPrefix+r.ID, r.ID, plain("Open in AgentGate"))
		open.URL = m.DashboardURL
		buttons = append(buttons, open)
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("actions", buttons...))
	}
	return blocks
}
