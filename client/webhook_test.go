package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sign is an independent HMAC-SHA256 for the test vectors.
func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	// The upstream AgentGate's vector (bare hex, no "sha256=").
	const (
		upSecret = "whsec_test_secret_0123456789abcdef"
		upBody   = `{"event":"request.approved","data":{"request":{"id":"abc"}},"timestamp":1700000000000}`
		upSig    = "2387c37bba9d40fe65863d95ab1dde09de219407e2ab85a4ab03910508366285"
	)
	if got := sign(upSecret, upBody); got != upSig {
		t.Fatalf("the independent HMAC disagrees with the upstream vector: %s", got)
	}
	const secret, body = "s3cret", `{"event":"request.decided","data":{"id":"req_1"}}`
	good := sign(secret, body)
	tests := []struct {
		name, secret, header, body string
		ok                         bool
	}{
		{"upstream bare hex", upSecret, upSig, upBody, true},
		{"upstream with prefix", upSecret, "sha256=" + upSig, upBody, true},
		{"prefix", secret, "sha256=" + good, body, true},
		{"uppercase hex and prefix", secret, "SHA256=" + strings.ToUpper(good), body, true},
		{"spaces", secret, "  sha256=" + good + " ", body, true},
		{"rotation: second of two", secret, "sha256=" + sign("old", body) + ", sha256=" + good, body, true},
		{"wrong secret", "other", "sha256=" + good, body, false},
		{"body changed", secret, "sha256=" + good, body + " ", false},
		{"body re-encoded", secret, "sha256=" + good, strings.ReplaceAll(body, ":", ": "), false},
		{"truncated", secret, "sha256=" + good[:63], body, false},
		{"not hex", secret, "sha256=" + strings.Repeat("z", 64), body, false},
		{"empty header", secret, "", body, false},
		{"prefix only", secret, "sha256=", body, false},
		{"other algorithm", secret, "sha1=" + good, body, false},
		{"empty secret", "", "sha256=" + sign("", body), body, false},
	}
	for _, tt := range tests {
		err := VerifyWebhook(tt.secret, tt.header, []byte(tt.body))
		if (err == nil) != tt.ok {
			t.Errorf("%s: VerifyWebhook = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrWebhookSignature) {
			t.Errorf("%s: err = %v, want ErrWebhookSignature", tt.name, err)
		}
	}
}

func TestVerifyWebhookTimestamp(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	tests := []struct {
		name, ts  string
		tolerance time.Duration
		ok        bool
	}{
		{"now", ts(0), 0, true},
		{"4m old, default 5m", ts(-4 * time.Minute), 0, true},
		{"6m old, default 5m", ts(-6 * time.Minute), 0, false},
		{"at the bound", ts(-time.Minute), time.Minute, true},
		{"past the bound", ts(-time.Minute - time.Second), time.Minute, false},
		{"future within", ts(30 * time.Second), time.Minute, true},
		{"future beyond", ts(2 * time.Minute), time.Minute, false},
		{"not a number", "yesterday", 0, false},
		{"milliseconds", strconv.FormatInt(now.UnixMilli(), 10), 0, false},
		{"huge", "9223372036854775807", 0, false},
		{"huge negative", "-9223372036854775808", 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		err := VerifyWebhookTimestamp(tt.ts, tt.tolerance, now)
		if (err == nil) != tt.ok {
			t.Errorf("%s: VerifyWebhookTimestamp(%q) = %v, want ok=%v", tt.name, tt.ts, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrWebhookTimestamp) {
			t.Errorf("%s: err = %v, want ErrWebhookTimestamp", tt.name, err)
		}
	}
}
