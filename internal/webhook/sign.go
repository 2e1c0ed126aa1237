package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Header names of a delivery.
const (
	HeaderSignature = "X-AgentGate-Signature"
	HeaderEvent     = "X-AgentGate-Event"
	HeaderDelivery  = "X-AgentGate-Delivery"
	HeaderTimestamp = "X-AgentGate-Timestamp"
	HeaderAttempt   = "X-AgentGate-Attempt"
)

// Sign returns the X-AgentGate-Signature value of body: "sha256=" and the
// lowercase hex HMAC-SHA256 of the raw body, keyed with the secret's bytes
// exactly as shown to the user (prefix included).
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
