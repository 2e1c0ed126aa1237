package config

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
