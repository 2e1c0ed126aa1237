package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/channels"
)

// DefaultAPIURL is Discord's REST API (version 10).
const DefaultAPIURL = "https://discord.com/api/v10"

// Client is the small part of Discord's REST API an approval bot needs:
// post a message to a channel and edit it.
type Client struct {
	base  string
	token string
	http  *http.Client
	ua    string
}

// NewClient returns a client of the API at base (DefaultAPIURL when
// empty) authenticated with the bot token. hc may be nil.
func NewClient(base, token, version string, hc *http.Client) *Client {
	if base == "" {
		base = DefaultAPIURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc,
		ua: "DiscordBot (https://github.com/agentgate/agentgate, " + version + ")"}
}

// MessageBody is a message to create or the new content of one.
type MessageBody struct {
	Content         string           `json:"content"`
	Embeds          []Embed          `json:"embeds"`
	Components      []Component      `json:"components"`
	AllowedMentions *AllowedMentions `json:"allowed_mentions,omitempty"`
	Flags           int              `json:"flags,omitempty"`
}

// Embed is a rich message card.
type Embed struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	URL         string       `json:"url,omitempty"`
	Color       int          `json:"color,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
	Footer      *EmbedFooter `json:"footer,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
}

// EmbedField is one name/value pair of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// EmbedFooter is an embed's footer.
type EmbedFooter struct {
	Text string `json:"text"`
}

// Component is an action row, a button or a text input.
type Component struct {
	Type        int         `json:"type"`
	Style       int         `json:"style,omitempty"`
	Label       string      `json:"label,omitempty"`
	CustomID    string      `json:"custom_id,omitempty"`
	URL         string      `json:"url,omitempty"`
	Disabled    bool        `json:"disabled,omitempty"`
	Components  []Component `json:"components,omitempty"`
	Required    *bool       `json:"required,omitempty"`
	MaxLength   int         `json:"max_length,omitempty"`
	Placeholder string      `json:"placeholder,omitempty"`
	Value       string      `json:"value,omitempty"`
}

// Component types and styles.
const (
	ComponentActionRow = 1
	ComponentButton    = 2
	ComponentTextInput = 4

	ButtonSuccess = 3
	ButtonDanger  = 4
	ButtonLink    = 5

	TextParagraph = 2
)

// AllowedMentions controls pings; an empty Parse list pings nobody.
type AllowedMentions struct {
	Parse []string `json:"parse"`
}

// Message is the part of a created message we keep.
type Message struct {
	ID        string `json:"id"`
	ChannelID string `json:"channel_id"`
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Code    int
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("discord: HTTP %d", e.Status)
	}
	return fmt.Sprintf("discord: HTTP %d: %s (code %d)", e.Status, e.Message, e.Code)
}

// CreateMessage posts msg to a channel.
func (c *Client) CreateMessage(ctx context.Context, channelID string, msg *MessageBody) (*Message, error) {
	var out Message
	err := c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/messages", msg, &out)
	return &out, err
}

// EditMessage replaces a message's content, embeds and components.
func (c *Client) EditMessage(ctx context.Context, channelID, messageID string, msg *MessageBody) error {
	return c.do(ctx, http.MethodPatch, "/channels/"+url.PathEscape(channelID)+"/messages/"+url.PathEscape(messageID), msg, nil)
}

// do sends one call. 4xx answers other than 408 and 429 are permanent.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bot "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("discord: %s %s: %w", method, path, unwrapURL(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || len(raw) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("discord: %s %s: decode answer: %w", method, path, err)
		}
		return nil
	}
	var e struct {
		Message    string  `json:"message"`
		Code       int     `json:"code"`
		RetryAfter float64 `json:"retry_after"`
	}
	_ = json.Unmarshal(raw, &e)
	apiErr := &APIError{Status: resp.StatusCode, Code: e.Code, Message: channels.Truncate(e.Message, 200)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if e.RetryAfter == 0 {
			e.RetryAfter, _ = strconv.ParseFloat(resp.Header.Get("Retry-After"), 64)
		}
		return fmt.Errorf("%w (rate limited, retry after %.1fs)", apiErr, e.RetryAfter)
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout:
		return channels.Permanent(apiErr)
	}
	return apiErr
}

// unwrapURL drops the URL from a transport error, to keep the stored
// error text short.
func unwrapURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
