package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateChannels(t *testing.T) {
	base, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if base.SMTPPort != 587 || base.SMTPTLS != "starttls" || base.DecisionLinkTTL != 24*time.Hour ||
		base.DiscordAPIURL != "https://discord.com/api/v10" || base.NotifyMaxAttempts != 8 {
		t.Fatalf("channel defaults: %+v", base)
	}
	key := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"slack on", func(c *Config) {
			c.SlackBotToken, c.SlackSigningSecret, c.SlackDefaultChannel, c.SlackApprovers = "xoxb-1", "s", []string{"#ops", " C12 "}, []string{"U1AB"}
		}, ""},
		{"slack without secret", func(c *Config) { c.SlackBotToken = "xoxb-1" }, "SLACK_SIGNING_SECRET"},
		{"slack default without token", func(c *Config) { c.SlackDefaultChannel = []string{"#ops"} }, "SLACK_DEFAULT_CHANNEL"},
		{"slack approver not an id", func(c *Config) {
			c.SlackBotToken, c.SlackSigningSecret, c.SlackApprovers = "x", "s", []string{"alice"}
		}, "SLACK_APPROVERS"},
		{"slack api url without slash", func(c *Config) { c.SlackAPIURL = "http://127.0.0.1:9/api" }, "SLACK_API_URL"},
		{"discord on", func(c *Config) {
			c.DiscordBotToken, c.DiscordPublicKey, c.DiscordDefaultChannel = "t", key, []string{"123"}
		}, ""},
		{"discord without key", func(c *Config) { c.DiscordBotToken = "t" }, "DISCORD_PUBLIC_KEY"},
		{"discord channel not an id", func(c *Config) {
			c.DiscordBotToken, c.DiscordPublicKey, c.DiscordDefaultChannel = "t", key, []string{"#general"}
		}, "DISCORD_DEFAULT_CHANNEL"},
		{"discord api url", func(c *Config) { c.DiscordAPIURL = "discord.com" }, "DISCORD_API_URL"},
		{"email on", func(c *Config) {
			c.SMTPHost, c.SMTPFrom, c.EmailDefaultTo = "smtp.example.com", "AgentGate <a@example.com>", []string{"ops@example.com"}
		}, ""},
		{"smtp without from", func(c *Config) { c.SMTPHost = "smtp.example.com" }, "SMTP_FROM"},
		{"email default without smtp", func(c *Config) { c.EmailDefaultTo = []string{"ops@example.com"} }, "EMAIL_DEFAULT_TO"},
		{"email default with a name", func(c *Config) {
			c.SMTPHost, c.SMTPFrom, c.EmailDefaultTo = "h", "a@example.com", []string{"Ops <ops@example.com>"}
		}, "EMAIL_DEFAULT_TO"},
		{"smtp tls", func(c *Config) { c.SMTPTLS = "ssl" }, "SMTP_TLS"},
		{"smtp port", func(c *Config) { c.SMTPPort = 0 }, "SMTP_PORT"},
		{"password without user", func(c *Config) { c.SMTPPassword = "p" }, "SMTP_PASSWORD"},
		{"link ttl", func(c *Config) { c.DecisionLinkTTL = time.Second }, "AGENTGATE_DECISION_LINK_TTL"},
		{"notify workers", func(c *Config) { c.NotifyWorkers = 0 }, "AGENTGATE_NOTIFY_WORKERS"},
		{"notify attempts", func(c *Config) { c.NotifyMaxAttempts = 51 }, "AGENTGATE_NOTIFY_MAX_ATTEMPTS"},
	} {
		c := *base
		tc.edit(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "xoxb-1") || strings.Contains(err.Error(), key)) {
			t.Errorf("%s: the error shows a secret: %v", tc.name, err)
		}
	}
}
