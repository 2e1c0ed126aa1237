// Package config reads the server's settings from environment variables.
// Every variable is listed in the README with its default; a test checks
// that the README and this struct agree.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is every server setting. Field tags name the variable and its
// default; `secret` fields are never printed.
type Config struct {
	Host              string        `env:"HOST" envDefault:"0.0.0.0"`
	Port              int           `env:"PORT" envDefault:"3000"`
	BaseURL           string        `env:"AGENTGATE_BASE_URL"`
	DatabaseURL       string        `env:"DATABASE_URL" secret:"true"`
	DBMaxConns        int           `env:"AGENTGATE_DB_MAX_CONNS" envDefault:"0"`
	SQLiteSync        string        `env:"AGENTGATE_SQLITE_SYNCHRONOUS" envDefault:"NORMAL"`
	AdminAPIKey       string        `env:"ADMIN_API_KEY" secret:"true"`
	DefaultTimeout    time.Duration `env:"AGENTGATE_DEFAULT_TIMEOUT" envDefault:"1h"`
	ShutdownTimeout   time.Duration `env:"AGENTGATE_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	ReadHeaderTO      time.Duration `env:"AGENTGATE_READ_HEADER_TIMEOUT" envDefault:"5s"`
	ReadTimeout       time.Duration `env:"AGENTGATE_READ_TIMEOUT" envDefault:"30s"`
	WriteTimeout      time.Duration `env:"AGENTGATE_WRITE_TIMEOUT" envDefault:"30s"`
	IdleTimeout       time.Duration `env:"AGENTGATE_IDLE_TIMEOUT" envDefault:"120s"`
	MaxBodyBytes      int64         `env:"AGENTGATE_MAX_BODY_BYTES" envDefault:"1048576"`
	LogLevel          string        `env:"AGENTGATE_LOG_LEVEL" envDefault:"info"`
	LogFormat         string        `env:"AGENTGATE_LOG_FORMAT" envDefault:"json"`
	AccessLog         bool          `env:"AGENTGATE_ACCESS_LOG" envDefault:"true"`
	Metrics           bool          `env:"AGENTGATE_METRICS" envDefault:"true"`
	PolicyFile        string        `env:"AGENTGATE_POLICY_FILE"`
	MaxWait           time.Duration `env:"AGENTGATE_MAX_WAIT" envDefault:"60s"`
	MaxStreams        int           `env:"AGENTGATE_MAX_STREAMS_PER_KEY" envDefault:"1000"`
	ParkLongPolls     bool          `env:"AGENTGATE_PARK_LONG_POLLS" envDefault:"true"`
	ExpirySweep       time.Duration `env:"AGENTGATE_EXPIRY_SWEEP_INTERVAL" envDefault:"1s"`
	JobWorkers        int           `env:"AGENTGATE_JOB_WORKERS" envDefault:"50"`
	DebugAddr         string        `env:"AGENTGATE_DEBUG_ADDR"`
	AuditSealInterval time.Duration `env:"AGENTGATE_AUDIT_SEAL_INTERVAL" envDefault:"1s"`

	// Webhooks (docs/webhooks.md).
	EncryptionKey       string        `env:"AGENTGATE_ENCRYPTION_KEY" secret:"true"`
	WebhookMaxAttempts  int           `env:"AGENTGATE_WEBHOOK_MAX_ATTEMPTS" envDefault:"12"`
	WebhookTimeout      time.Duration `env:"AGENTGATE_WEBHOOK_TIMEOUT" envDefault:"10s"`
	WebhookRetryBase    time.Duration `env:"AGENTGATE_WEBHOOK_RETRY_BASE" envDefault:"1s"`
	WebhookAllowPrivate bool          `env:"AGENTGATE_WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`
	WebhookWorkers      int           `env:"AGENTGATE_WEBHOOK_WORKERS" envDefault:"100"`

	// Rate limits and HTTP hardening: see SECURITY.md.
	RedisURL         string   `env:"REDIS_URL" secret:"true"`
	DefaultRateLimit int      `env:"AGENTGATE_DEFAULT_RATE_LIMIT" envDefault:"0"`
	AdminRateLimit   int      `env:"AGENTGATE_ADMIN_RATE_LIMIT" envDefault:"0"`
	AuthFailureLimit int      `env:"AGENTGATE_AUTH_FAILURE_LIMIT" envDefault:"30"`
	TrustedProxies   []string `env:"AGENTGATE_TRUSTED_PROXIES" envSeparator:","`
	CORSOrigins      []string `env:"CORS_ORIGINS" envSeparator:","`
	TLSCert          string   `env:"AGENTGATE_TLS_CERT"`
	TLSKey           string   `env:"AGENTGATE_TLS_KEY"`
	MaxParamsKeys    int      `env:"AGENTGATE_MAX_PARAMS_KEYS" envDefault:"256"`

	// Dashboard (docs/dashboard.md).
	SessionTTL time.Duration `env:"AGENTGATE_SESSION_TTL" envDefault:"12h"`

	// Channels: Slack, Discord, email (docs/slack.md, docs/discord.md,
	// docs/email.md).
	SlackBotToken         string        `env:"SLACK_BOT_TOKEN" secret:"true"`
	SlackSigningSecret    string        `env:"SLACK_SIGNING_SECRET" secret:"true"`
	SlackDefaultChannel   []string      `env:"SLACK_DEFAULT_CHANNEL" envSeparator:","`
	SlackApprovers        []string      `env:"SLACK_APPROVERS" envSeparator:","`
	SlackAPIURL           string        `env:"SLACK_API_URL"`
	DiscordBotToken       string        `env:"DISCORD_BOT_TOKEN" secret:"true"`
	DiscordPublicKey      string        `env:"DISCORD_PUBLIC_KEY"`
	DiscordDefaultChannel []string      `env:"DISCORD_DEFAULT_CHANNEL" envSeparator:","`
	DiscordApprovers      []string      `env:"DISCORD_APPROVERS" envSeparator:","`
	DiscordAPIURL         string        `env:"DISCORD_API_URL" envDefault:"https://discord.com/api/v10"`
	SMTPHost              string        `env:"SMTP_HOST"`
	SMTPPort              int           `env:"SMTP_PORT" envDefault:"587"`
	SMTPUsername          string        `env:"SMTP_USERNAME"`
	SMTPPassword          string        `env:"SMTP_PASSWORD" secret:"true"`
	SMTPFrom              string        `env:"SMTP_FROM"`
	SMTPTLS               string        `env:"SMTP_TLS" envDefault:"starttls"`
	EmailDefaultTo        []string      `env:"EMAIL_DEFAULT_TO" envSeparator:","`
	DecisionLinkTTL       time.Duration `env:"AGENTGATE_DECISION_LINK_TTL" envDefault:"24h"`
	NotifyWorkers         int           `env:"AGENTGATE_NOTIFY_WORKERS" envDefault:"20"`
	NotifyMaxAttempts     int           `env:"AGENTGATE_NOTIFY_MAX_ATTEMPTS" envDefault:"8"`
}

// Load reads the configuration from the environment and validates it.
func Load() (*Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks cross-field rules; messages name the variable.
func (c *Config) Validate() error {
	var errs []error
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("PORT must be between 0 and 65535, not %d", c.Port))
	}
	if c.AdminAPIKey != "" && len(c.AdminAPIKey) < 16 {
		errs = append(errs, errors.New("ADMIN_API_KEY must be at least 16 characters"))
	}
	if c.DefaultTimeout < 0 {
		errs = append(errs, errors.New("AGENTGATE_DEFAULT_TIMEOUT must not be negative (0 means requests never expire)"))
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		errs = append(errs, errors.New("AGENTGATE_MAX_BODY_BYTES must be between 1024 and 67108864"))
	}
	if c.MaxStreams < 0 {
		errs = append(errs, errors.New("AGENTGATE_MAX_STREAMS_PER_KEY must not be negative (0 means unlimited)"))
	}
	if c.JobWorkers < 1 || c.JobWorkers > 10000 {
		errs = append(errs, errors.New("AGENTGATE_JOB_WORKERS must be between 1 and 10000"))
	}
	if c.WebhookMaxAttempts < 1 || c.WebhookMaxAttempts > 50 {
		errs = append(errs, errors.New("AGENTGATE_WEBHOOK_MAX_ATTEMPTS must be between 1 and 50"))
	}
	if c.WebhookTimeout <= 0 || c.WebhookTimeout > 5*time.Minute {
		errs = append(errs, errors.New("AGENTGATE_WEBHOOK_TIMEOUT must be positive and at most 5m"))
	}
	if c.WebhookRetryBase <= 0 || c.WebhookRetryBase > time.Hour {
		errs = append(errs, errors.New("AGENTGATE_WEBHOOK_RETRY_BASE must be positive and at most 1h"))
	}
	if c.WebhookWorkers < 1 || c.WebhookWorkers > 10000 {
		errs = append(errs, errors.New("AGENTGATE_WEBHOOK_WORKERS must be between 1 and 10000"))
	}
	if c.EncryptionKey != "" {
		if _, err := ParseKey(c.EncryptionKey); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validateChannels()...)
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("AGENTGATE_LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("AGENTGATE_LOG_FORMAT must be json or text, not %q", c.LogFormat))
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("AGENTGATE_BASE_URL must be an http(s) URL such as https://agentgate.example.com"))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"AGENTGATE_SHUTDOWN_TIMEOUT", c.ShutdownTimeout}, {"AGENTGATE_READ_HEADER_TIMEOUT", c.ReadHeaderTO},
		{"AGENTGATE_READ_TIMEOUT", c.ReadTimeout}, {"AGENTGATE_WRITE_TIMEOUT", c.WriteTimeout}, {"AGENTGATE_IDLE_TIMEOUT", c.IdleTimeout},
		{"AGENTGATE_MAX_WAIT", c.MaxWait}, {"AGENTGATE_EXPIRY_SWEEP_INTERVAL", c.ExpirySweep},
		{"AGENTGATE_AUDIT_SEAL_INTERVAL", c.AuditSealInterval}, {"AGENTGATE_SESSION_TTL", c.SessionTTL}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", d.name))
		}
	}
	errs = append(errs, c.validateHardening()...)
	return errors.Join(errs...)
}

// Addr is the listen address.
func (c *Config) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }

// SecureCookies reports whether cookies must be marked Secure whatever
// the request: the public URL is https, so a TLS-terminating proxy sits in
// front even when the request reached us in plain HTTP.
func (c *Config) SecureCookies() bool {
	return strings.HasPrefix(strings.ToLower(c.BaseURL), "https://")
}

// PublicURL is where people and integrations reach the server.
func (c *Config) PublicURL() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	host := c.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s:%d", scheme, host, c.Port)
}

// ParseKey decodes AGENTGATE_ENCRYPTION_KEY: exactly 32 bytes written as
// 64 hex digits or as base64 (standard or URL alphabet, padded or not).
// Generate one with `openssl rand -hex 32`. Passphrases are refused on
// purpose: a key derived from a short string would be guessable.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("AGENTGATE_ENCRYPTION_KEY must be 32 bytes written as 64 hex digits or base64 (generate one with: openssl rand -hex 32)")
}
