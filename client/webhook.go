package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Webhook headers.
const (
	// SignatureHeader carries "sha256=<hex HMAC-SHA256(secret, raw body)>";
	// bare hex is accepted too (the upstream AgentGate sends that).
	SignatureHeader = "X-AgentGate-Signature"
	// TimestampHeader carries the delivery time in Unix seconds.
	TimestampHeader = "X-AgentGate-Timestamp"
)

// DefaultWebhookTolerance is the clock skew VerifyWebhookTimestamp allows
// when given a tolerance of zero.
const DefaultWebhookTolerance = 5 * time.Minute

// Webhook verification errors.
var (
	ErrWebhookSignature = errors.New("agentgate: webhook signature does not match")
	ErrWebhookTimestamp = errors.New("agentgate: webhook timestamp outside the tolerance")
)

// VerifyWebhook checks that body, the raw bytes of a webhook delivery,
// was signed with secret. signatureHeader is the value of the
// X-AgentGate-Signature header: "sha256=<64 hex digits>" or the bare hex.
// During a secret rotation the header may list several signatures
// separated by commas; one match is enough. The comparison takes constant
// time.
//
// Verify the bytes exactly as received, before decoding them: re-encoding
// JSON changes them. Errors wrap ErrWebhookSignature.
func VerifyWebhook(secret string, signatureHeader string, body []byte) error {
	if secret == "" {
		return fmt.Errorf("%w: no secret configured", ErrWebhookSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := mac.Sum(nil)
	seen := false
	for part := range strings.SplitSeq(signatureHeader, ",") {
		sig := strings.TrimSpace(part)
		if len(sig) > len("sha256=") && strings.EqualFold(sig[:len("sha256=")], "sha256=") {
			sig = sig[len("sha256="):]
		}
		if sig == "" {
			continue
		}
		seen = true
		got, err := hex.DecodeString(sig)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	if !seen {
		return fmt.Errorf("%w: no signature in the %s header", ErrWebhookSignature, SignatureHeader)
	}
	return ErrWebhookSignature
}

// VerifyWebhookTimestamp checks that ts, the X-AgentGate-Timestamp header
// (Unix seconds), is within tolerance of now, in either direction.
// tolerance 0 means DefaultWebhookTolerance. Pass time.Now() as now (tests
// pass a fixed time).
//
// Rejecting old deliveries limits replays. Use it together with
// VerifyWebhook; the timestamp is only as trustworthy as what the
// signature covers. Errors wrap ErrWebhookTimestamp.
func VerifyWebhookTimestamp(ts string, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrWebhookTimestamp, ts)
	}
	// Compare times, not a difference: a difference of extreme values
	// overflows time.Duration.
	t := time.Unix(secs, 0)
	if t.Before(now.Add(-tolerance)) || t.After(now.Add(tolerance)) {
		return fmt.Errorf("%w: sent at %d, now is %d (tolerance %s)", ErrWebhookTimestamp, secs, now.Unix(), tolerance)
	}
	return nil
}
