package webhook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	a, b := GenerateSecret(), GenerateSecret()
	if a == b {
		t.Fatal("two generated secrets are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(a, SecretPrefix))
	if !strings.HasPrefix(a, SecretPrefix) || err != nil || len(raw) != 32 {
		t.Fatalf("secret %q is not whsec_ + 32 bytes base64url (err %v, %d bytes)", a, err, len(raw))
	}
	if err := validateSecret(a); err != nil {
		t.Fatalf("a generated secret fails validation: %v", err)
	}
}

func TestCipher(t *testing.T) {
	t.Parallel()
	c, err := NewCipher(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	sealed := c.Seal(secret, "whk_1")
	if !IsSealed(sealed) || strings.Contains(sealed, secret) {
		t.Fatalf("sealed value %q is not sealed", sealed)
	}
	if again := c.Seal(secret, "whk_1"); again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := c.Open(sealed, "whk_1"); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tests := []struct {
		name   string
		c      *Cipher
		stored string
		id     string
		want   string // "" means an error
		errIs  error
	}{
		{"plaintext passes through", c, secret, "whk_1", secret, nil},
		{"plaintext without a key", nil, secret, "whk_1", secret, nil},
		{"sealed without a key", nil, sealed, "whk_1", "", ErrNoKey},
		{"another row's id", c, sealed, "whk_2", "", nil},
		{"tampered", c, sealed[:len(sealed)-2] + "AA", "whk_1", "", nil},
		{"truncated", c, sealedPrefix + "AAAA", "whk_1", "", nil},
		{"not base64", c, sealedPrefix + "!!!", "whk_1", "", nil},
	}
	other, _ := NewCipher(testKey(2))
	tests = append(tests, struct {
		name   string
		c      *Cipher
		stored string
		id     string
		want   string
		errIs  error
	}{"another key", other, sealed, "whk_1", "", nil})
	for _, tc := range tests {
		got, err := tc.c.Open(tc.stored, tc.id)
		if tc.want != "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: Open = %q, %v; want %q", tc.name, got, err, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Open succeeded with %q", tc.name, got)
		}
		if tc.errIs != nil && !errors.Is(err, tc.errIs) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.errIs)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the secret", tc.name)
		}
	}
	if nilC, err := NewCipher(nil); nilC != nil || err != nil {
		t.Fatalf("NewCipher(nil) = %v, %v; want nil, nil", nilC, err)
	}
	if _, err := NewCipher(make([]byte, 16)); err == nil {
		t.Fatal("NewCipher accepted a 16-byte key")
	}
}

// TestSignVector pins the signature format with a vector computed
// outside Go: printf '{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test'.
func TestSignVector(t *testing.T) {
	t.Parallel()
	const want = "sha256=51426af50a41dd7ff2cd3f116594734766d4018d15d6fb07169aee5d2959adf5"
	if got := Sign("whsec_test", []byte(`{"a":1}`)); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	s := &Service{cfg: Config{RetryBase: time.Second}}
	for attempt := 1; attempt <= 12; attempt++ {
		base := time.Second << attempt
		for job := uint64(1); job <= 50; job++ {
			d := s.retryDelay(job, attempt)
			if d < base || d > base+base/4 {
				t.Fatalf("retryDelay(job %d, attempt %d) = %v, want within [%v, %v]", job, attempt, d, base, base+base/4)
			}
			if d != s.retryDelay(job, attempt) {
				t.Fatal("retryDelay is not deterministic for one job and attempt")
			}
		}
	}
	if a, b := s.retryDelay(1, 3), s.retryDelay(2, 3); a == b {
		t.Errorf("no jitter between jobs: both %v", a)
	}
	if d := s.retryDelay(1, 30); d != MaxRetryDelay {
		t.Errorf("retryDelay(attempt 30) = %v, want the cap %v", d, MaxRetryDelay)
	}
	if d := s.retryDelay(1, 100); d != MaxRetryDelay {
		t.Errorf("retryDelay(attempt 100) = %v, want the cap %v", d, MaxRetryDelay)
	}
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		res  Result
		want outcome
	}{
		{Result{StatusCode: 200}, outcomeSuccess},
		{Result{StatusCode: 204}, outcomeSuccess},
		{Result{StatusCode: 301}, outcomeRetry},
		{Result{StatusCode: 302}, outcomeRetry},
		{Result{StatusCode: 400}, outcomePermanent},
		{Result{StatusCode: 401}, outcomePermanent},
		{Result{StatusCode: 404}, outcomePermanent},
		{Result{StatusCode: 410}, outcomePermanent},
		{Result{StatusCode: 408}, outcomeRetry},
		{Result{StatusCode: 425}, outcomeRetry},
		{Result{StatusCode: 429}, outcomeRetry},
		{Result{StatusCode: 500}, outcomeRetry},
		{Result{StatusCode: 503}, outcomeRetry},
		{Result{Err: errors.New("connection refused")}, outcomeRetry},
		{Result{Err: &RefusedError{Reason: "loopback"}}, outcomePermanent},
	}
	for _, tc := range tests {
		if got := outcomeOf(tc.res); got != tc.want {
			t.Errorf("outcomeOf(%d, %v) = %v, want %v", tc.res.StatusCode, tc.res.Err, got, tc.want)
		}
	}
}
