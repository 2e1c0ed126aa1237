package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// validateChannels checks the Slack, Discord and email settings: a channel
// is on when its token (or SMTP host) is set, and then needs the rest of
// its settings; defaults and allow-lists without their channel are
// mistakes worth stopping for.
func (c *Config) validateChannels() []error {
	var errs []error
	c.SlackDefaultChannel = trimList(c.SlackDefaultChannel)
	c.SlackApprovers = trimList(c.SlackApprovers)
	c.DiscordDefaultChannel = trimList(c.DiscordDefaultChannel)
	c.DiscordApprovers = trimList(c.DiscordApprovers)
	c.EmailDefaultTo = trimList(c.EmailDefaultTo)

	if c.SlackBotToken != "" && c.SlackSigningSecret == "" {
		errs = append(errs, errors.New("SLACK_SIGNING_SECRET is required with SLACK_BOT_TOKEN: it verifies button clicks"))
	}
	if c.SlackBotToken == "" && (len(c.SlackDefaultChannel) > 0 || len(c.SlackApprovers) > 0) {
		errs = append(errs, errors.New("SLACK_DEFAULT_CHANNEL and SLACK_APPROVERS need SLACK_BOT_TOKEN"))
	}
	for _, id := range c.SlackApprovers {
		if !isSlackID(id) {
			errs = append(errs, fmt.Errorf("SLACK_APPROVERS must list Slack user ids such as U012AB3CD, not %q", id))
		}
	}
	if c.SlackAPIURL != "" {
		if err := checkURL(c.SlackAPIURL); err != nil || !strings.HasSuffix(c.SlackAPIURL, "/") {
			errs = append(errs, errors.New("SLACK_API_URL must be an http(s) URL ending with a slash, such as https://slack.com/api/"))
		}
	}

	if c.DiscordBotToken != "" {
		if b, err := hex.DecodeString(strings.TrimSpace(c.DiscordPublicKey)); err != nil || len(b) != 32 {
			errs = append(errs, errors.New("DISCORD_PUBLIC_KEY is required with DISCORD_BOT_TOKEN: the application's public key, 64 hex digits"))
		}
	}
	if c.DiscordBotToken == "" && (len(c.DiscordDefaultChannel) > 0 || len(c.DiscordApprovers) > 0) {
		errs = append(errs, errors.New("DISCORD_DEFAULT_CHANNEL and DISCORD_APPROVERS need DISCORD_BOT_TOKEN"))
	}
	for _, list := range []struct {
		name string
		ids  []string
	}{{"DISCORD_DEFAULT_CHANNEL", c.DiscordDefaultChannel}, {"DISCORD_APPROVERS", c.DiscordApprovers}} {
		for _, id := range list.ids {
			if !isDigits(id) {
				errs = append(errs, fmt.Errorf("%s must list Discord ids (digits), not %q", list.name, id))
			}
		}
	}
	if err := checkURL(c.DiscordAPIURL); err != nil {
		errs = append(errs, errors.New("DISCORD_API_URL must be an http(s) URL such as https://discord.com/api/v10"))
	}

	if c.SMTPHost != "" {
		if a, err := mail.ParseAddress(c.SMTPFrom); err != nil || a.Address == "" {
			errs = append(errs, errors.New("SMTP_FROM is required with SMTP_HOST: an address such as AgentGate <agentgate@example.com>"))
		}
	}
	if c.SMTPHost == "" && len(c.EmailDefaultTo) > 0 {
		errs = append(errs, errors.New("EMAIL_DEFAULT_TO needs SMTP_HOST and SMTP_FROM"))
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		errs = append(errs, fmt.Errorf("SMTP_PORT must be between 1 and 65535, not %d", c.SMTPPort))
	}
	switch c.SMTPTLS {
	case "starttls", "tls", "none":
	default:
		errs = append(errs, fmt.Errorf("SMTP_TLS must be starttls, tls or none, not %q", c.SMTPTLS))
	}
	if c.SMTPPassword != "" && c.SMTPUsername == "" {
		errs = append(errs, errors.New("SMTP_PASSWORD needs SMTP_USERNAME"))
	}
	for _, to := range c.EmailDefaultTo {
		if a, err := mail.ParseAddress(to); err != nil || a.Address != to {
			errs = append(errs, fmt.Errorf("EMAIL_DEFAULT_TO must list bare addresses such as ops@example.com, not %q", to))
		}
	}
	if c.DecisionLinkTTL < time.Minute || c.DecisionLinkTTL > 30*24*time.Hour {
		errs = append(errs, errors.New("AGENTGATE_DECISION_LINK_TTL must be between 1m and 720h"))
	}
	if c.NotifyWorkers < 1 || c.NotifyWorkers > 10000 {
		errs = append(errs, errors.New("AGENTGATE_NOTIFY_WORKERS must be between 1 and 10000"))
	}
	if c.NotifyMaxAttempts < 1 || c.NotifyMaxAttempts > 50 {
		errs = append(errs, errors.New("AGENTGATE_NOTIFY_MAX_ATTEMPTS must be between 1 and 50"))
	}
	return errs
}

func trimList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 25 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isSlackID accepts Slack user ids (U… or W…, upper-case letters and digits).
func isSlackID(s string) bool {
	if len(s) < 2 || len(s) > 32 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
