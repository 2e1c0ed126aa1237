package config

import (
	"bytes"
	"encoding/base64"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEListsEveryVariable keeps the README's table and the Config
// struct in step: every variable the server reads is documented, and the
// README documents no variable the server ignores.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	read := map[string]bool{}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Tag.Get("env"); name != "" {
			read[name] = true
		}
	}
	for name := range read {
		if !documented[name] {
			t.Errorf("%s is read by the server but not documented in the README's configuration table", name)
		}
	}
	for name := range documented {
		if !read[name] && !strings.HasPrefix(name, "AGENTGATE_TEST_") {
			t.Errorf("%s is documented in the README but the server does not read it", name)
		}
	}
}

func TestValidate(t *testing.T) {
	base := func() Config {
		t.Setenv("PORT", "")
		c, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		return *c
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"bad port", func(c *Config) { c.Port = 70000 }, "PORT must be"},
		{"short admin key", func(c *Config) { c.AdminAPIKey = "short" }, "ADMIN_API_KEY"},
		{"negative timeout", func(c *Config) { c.DefaultTimeout = -1 }, "AGENTGATE_DEFAULT_TIMEOUT"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "AGENTGATE_LOG_LEVEL"},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "AGENTGATE_LOG_FORMAT"},
		{"bad base url", func(c *Config) { c.BaseURL = "ftp://x" }, "AGENTGATE_BASE_URL"},
		{"tiny body limit", func(c *Config) { c.MaxBodyBytes = 10 }, "AGENTGATE_MAX_BODY_BYTES"},
		{"zero shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "AGENTGATE_SHUTDOWN_TIMEOUT"},
		{"zero workers", func(c *Config) { c.JobWorkers = 0 }, "AGENTGATE_JOB_WORKERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	c := Config{Host: "0.0.0.0", Port: 3000}
	if got := c.PublicURL(); got != "http://localhost:3000" {
		t.Errorf("PublicURL = %q", got)
	}
	c.BaseURL = "https://gate.example.com/"
	if got := c.PublicURL(); got != "https://gate.example.com" {
		t.Errorf("PublicURL with base = %q", got)
	}
}

func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"hex", strings.Repeat("ab", 32), true},
		{"hex upper case", strings.Repeat("AB", 32), true},
		{"base64", base64.StdEncoding.EncodeToString(key), true},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(key), true},
		{"base64url", base64.URLEncoding.EncodeToString(key), true},
		{"surrounding blanks", " " + strings.Repeat("ab", 32) + "\n", true},
		{"passphrase", "correct horse battery staple", false},
		{"16 bytes hex", strings.Repeat("ab", 16), false},
		{"31 bytes base64", base64.StdEncoding.EncodeToString(key[:31]), false},
		{"64 characters, not hex", strings.Repeat("zz", 32), false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		got, err := ParseKey(tc.in)
		if tc.ok && (err != nil || !bytes.Equal(got, key)) {
			t.Errorf("%s: ParseKey = %x, %v; want the key", tc.name, got, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: ParseKey accepted %q", tc.name, tc.in)
		}
		if err != nil && (!strings.Contains(err.Error(), "AGENTGATE_ENCRYPTION_KEY") || (tc.in != "" && strings.Contains(err.Error(), tc.in))) {
			t.Errorf("%s: error %q must name the variable and not echo the value", tc.name, err)
		}
	}
}

func TestValidateWebhookSettings(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.WebhookMaxAttempts != 12 || c.WebhookTimeout.String() != "10s" || c.WebhookRetryBase.String() != "1s" || c.WebhookAllowPrivate {
		t.Fatalf("webhook defaults: %d %v %v %v", c.WebhookMaxAttempts, c.WebhookTimeout, c.WebhookRetryBase, c.WebhookAllowPrivate)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.WebhookMaxAttempts = 0 }, "AGENTGATE_WEBHOOK_MAX_ATTEMPTS"},
		{func(c *Config) { c.WebhookTimeout = 0 }, "AGENTGATE_WEBHOOK_TIMEOUT"},
		{func(c *Config) { c.WebhookRetryBase = -1 }, "AGENTGATE_WEBHOOK_RETRY_BASE"},
		{func(c *Config) { c.WebhookWorkers = 0 }, "AGENTGATE_WEBHOOK_WORKERS"},
		{func(c *Config) { c.EncryptionKey = "hunter2" }, "AGENTGATE_ENCRYPTION_KEY"},
	} {
		cc := *c
		tc.edit(&cc)
		if err := cc.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want an error naming %s", err, tc.want)
		}
	}
}
