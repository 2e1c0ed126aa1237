package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix starts every generated secret.
const SecretPrefix = "whsec_"

// Secret length bounds for secrets the caller chooses.
const (
	MinSecretLen = 32
	MaxSecretLen = 256
)

// GenerateSecret returns "whsec_" + 32 random bytes in unpadded base64url.
func GenerateSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// sealedPrefix marks a secret sealed with AES-256-GCM, format version 1:
// "enc:v1:" + base64url(nonce(12) || ciphertext || tag(16)). The version
// lets a later format (or key rotation) coexist with stored values.
const sealedPrefix = "enc:v1:"

// ErrNoKey means a sealed secret was found but no key is configured.
var ErrNoKey = errors.New("webhook secret is encrypted but AGENTGATE_ENCRYPTION_KEY is not set")

// Cipher seals webhook secrets at rest with AES-256-GCM. A nil *Cipher
// (no key configured) stores secrets as plaintext. Values without the
// sealed prefix are plaintext and open as themselves, so secrets written
// before a key was configured keep working.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher returns a Cipher for a 32-byte key, or nil for an empty key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) == 0 {
		return nil, nil
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("webhook: encryption key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// Seal returns the stored form of secret. id (the webhook id) is bound as
// associated data, so a sealed value copied to another row does not open.
func (c *Cipher) Seal(secret, id string) string {
	if c == nil {
		return secret
	}
	nonce := make([]byte, c.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := c.aead.Seal(nonce, nonce, []byte(secret), []byte(id))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// Open returns the secret of a stored value.
func (c *Cipher) Open(stored, id string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	if c == nil {
		return "", ErrNoKey
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(stored, sealedPrefix))
	ns := c.aead.NonceSize()
	if err != nil || len(raw) < ns+c.aead.Overhead() {
		return "", errors.New("webhook secret: malformed sealed value")
	}
	plain, err := c.aead.Open(nil, raw[:ns], raw[ns:], []byte(id))
	if err != nil {
		return "", errors.New("webhook secret cannot be decrypted: AGENTGATE_ENCRYPTION_KEY is not the key it was sealed with")
	}
	return string(plain), nil
}

// IsSealed reports whether a stored secret is encrypted.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, sealedPrefix) }
