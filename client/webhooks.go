package client

import (
	"context"
	"net/http"
	"time"
)

// The calls in this file manage webhook subscriptions: they need a key
// with the webhook:manage scope (or admin), else they return ErrForbidden.
// Receivers check deliveries with VerifyWebhook.

// Webhook events a subscription may name, besides WebhookAllEvents.
const (
	WebhookAllEvents       = "*"
	WebhookRequestCreated  = "request.created"
	WebhookRequestDecided  = "request.decided" // approved or denied
	WebhookRequestApproved = "request.approved"
	WebhookRequestDenied   = "request.denied"
	WebhookRequestExpired  = "request.expired"
)

// WebhookInput describes a new webhook subscription.
type WebhookInput struct {
	URL string `json:"url"`
	// Events lists the events to deliver; []string{WebhookAllEvents} for
	// every event. Required.
	Events []string `json:"events"`
	// Secret signs the deliveries; empty lets the server generate one,
	// returned once in CreatedWebhook.Secret.
	Secret string `json:"secret,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
}

// Webhook is a webhook subscription as listed (never its secret).
type Webhook struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	// SecretEncrypted reports whether the server stores the secret
	// encrypted at rest.
	SecretEncrypted bool      `json:"secretEncrypted"`
	CreatedBy       string    `json:"createdBy"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// CreatedWebhook is a new webhook with its signing secret, which the
// server shows only in this answer.
type CreatedWebhook struct {
	Webhook
	Secret string `json:"secret"`
}

// WebhookDelivery is one delivery of an event to a webhook.
type WebhookDelivery struct {
	ID             string    `json:"id"`
	WebhookID      string    `json:"webhookId"`
	Event          string    `json:"event"`
	RequestID      *string   `json:"requestId"`
	Status         string    `json:"status"` // pending, success, failed, canceled
	Attempts       int       `json:"attempts"`
	LastStatusCode *int      `json:"lastStatusCode"`
	LastError      *string   `json:"lastError"`
	NextAttemptAt  time.Time `json:"nextAttemptAt"` // zero when none is planned
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	CompletedAt    time.Time `json:"completedAt"` // zero while pending
}

// WebhookTestResult is the outcome of TestWebhook: one signed test
// delivery sent at once, without retries.
type WebhookTestResult struct {
	Success      bool            `json:"success"`
	StatusCode   *int            `json:"statusCode"` // the receiver's answer; nil when none came
	DurationMs   int64           `json:"durationMs"`
	Error        *string         `json:"error"`
	ResponseBody *string         `json:"responseBody"`
	Delivery     WebhookDelivery `json:"delivery"`
}

// CreateWebhook subscribes in.URL to in.Events. The returned Secret is
// shown only now: give it to the receiver, which checks deliveries with
// VerifyWebhook.
//
// Like CreateKey it is not retried after a failure that may have reached
// the server (it would subscribe twice); check ListWebhooks first.
//
// Errors: ErrInvalid (bad URL, unknown event, a URL the server refuses to
// call), ErrForbidden.
func (c *Client) CreateWebhook(ctx context.Context, in WebhookInput) (*CreatedWebhook, error) {
	if in.Events == nil {
		in.Events = []string{} // the server requires the field and names the events
	}
	body, err := encodeBody(in)
	if err != nil {
		return nil, err
	}
	var out CreatedWebhook
	if err := c.do(ctx, &call{method: http.MethodPost, path: "/api/webhooks", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWebhooks returns every webhook subscription.
func (c *Client) ListWebhooks(ctx context.Context) ([]*Webhook, error) {
	var out struct {
		Webhooks []*Webhook `json:"webhooks"`
	}
	if err := c.do(ctx, &call{method: http.MethodGet, path: "/api/webhooks"}, &out); err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// DeleteWebhook deletes webhook id; its pending deliveries are canceled.
//
// Errors: ErrNotFound, ErrForbidden.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/api/webhooks/" + escape(id)}, nil)
}

// TestWebhook sends a signed test delivery to webhook id now and reports
// how the receiver answered. A receiver that fails is not an error: see
// Success and Error.
//
// Errors: ErrNotFound, ErrForbidden.
func (c *Client) TestWebhook(ctx context.Context, id string) (*WebhookTestResult, error) {
	var out WebhookTestResult
	if err := c.do(ctx, &call{method: http.MethodPost, path: "/api/webhooks/" + escape(id) + "/test"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
