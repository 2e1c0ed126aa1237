package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/agentgate/agentgate/internal/approval"
)

// Config holds the Service's settings.
type Config struct {
	// MaxAttempts is how many times a delivery is tried before it fails
	// (AGENTGATE_WEBHOOK_MAX_ATTEMPTS). Defaults to 12: with the default
	// base delay the retries span about 68 minutes.
	MaxAttempts int
	// Timeout bounds one attempt (AGENTGATE_WEBHOOK_TIMEOUT). Defaults
	// to 10s.
	Timeout time.Duration
	// RetryBase is the backoff unit: the retry after attempt n waits
	// RetryBase × 2^n plus up to 25 % jitter, at most MaxRetryDelay
	// (AGENTGATE_WEBHOOK_RETRY_BASE). Defaults to 1s.
	RetryBase time.Duration
	// Concurrency bounds the POSTs in flight at once in this process,
	// over every batch and retry (AGENTGATE_WEBHOOK_WORKERS). Defaults to
	// 100.
	Concurrency int
	// AllowPrivate opens loopback and private addresses (never cloud
	// metadata) for development and tests (AGENTGATE_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// EncryptionKey seals secrets at rest when set (32 bytes; see config.ParseKey).
	EncryptionKey []byte
	// Version goes into the User-Agent header.
	Version string
}

// Defaults.
const (
	DefaultMaxAttempts = 12
	DefaultTimeout     = 10 * time.Second
	DefaultRetryBase   = time.Second
	DefaultConcurrency = 100
	// MaxRetryDelay caps one wait between attempts.
	MaxRetryDelay = 6 * time.Hour
)

// Options are the Service's optional collaborators.
type Options struct {
	Logger *slog.Logger
	// Resolver resolves host names for validation and delivery; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// AllowPrefixes opens address ranges to the guard. Tests only.
	AllowPrefixes []netip.Prefix
}

// Service manages subscriptions and delivers events. It is safe for
// concurrent use once SetQueue has been called.
type Service struct {
	store     Store
	queue     Queue
	cfg       Config
	cipher    *Cipher
	guard     *Guard
	validator *Validator
	client    *Client
	log       *slog.Logger
	userAgent string
	// slots holds a token per POST in flight (Config.Concurrency).
	slots chan struct{}

	cacheMu  sync.Mutex
	cacheGen int64
	cacheOK  bool
	cached   []*Webhook
}

// NewService returns a Service on store. Call SetQueue before use.
func NewService(store Store, cfg Config, opts Options) (*Service, error) {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := NewCipher(cfg.EncryptionKey)
	if err != nil {
		return nil, err
	}
	guard := NewGuard(cfg.AllowPrivate, opts.AllowPrefixes...)
	return &Service{
		store:     store,
		cfg:       cfg,
		cipher:    c,
		guard:     guard,
		validator: NewValidator(guard, opts.Resolver),
		client:    NewClient(guard, ClientOptions{Timeout: cfg.Timeout, Resolver: opts.Resolver}),
		log:       opts.Logger,
		userAgent: "AgentGate-Webhooks/" + cfg.Version,
		slots:     make(chan struct{}, cfg.Concurrency),
	}, nil
}

// SetQueue sets where delivery jobs are enqueued. It must be called
// before the Service is used concurrently.
func (s *Service) SetQueue(q Queue) { s.queue = q }

// AddWorkers registers the Service's River workers (batches and retries of
// single deliveries) with ws.
func (s *Service) AddWorkers(ws *river.Workers) {
	river.AddWorker(ws, &batchWorker{s: s})
	river.AddWorker(ws, &deliveryWorker{s: s})
}

// Config returns the effective configuration (defaults applied).
func (s *Service) Config() Config { return s.cfg }

// Input creates a webhook.
type Input struct {
	URL     string
	Events  []string
	Secret  string // empty: generated
	Enabled *bool  // nil: enabled
}

// Patch changes a webhook; nil fields stay as they are.
type Patch struct {
	URL          *string
	Events       []string // nil: unchanged
	Secret       *string
	RotateSecret bool // generate a new secret and return it once
	Enabled      *bool
}

func notFound(err error) error { return approval.Wrap(approval.CodeNotFound, err, "Webhook not found") }

func (s *Service) validateURL(ctx context.Context, raw string) (string, error) {
	u, err := s.validator.Validate(ctx, raw)
	if err != nil {
		return "", approval.Wrap(approval.CodeInvalid, err, "Invalid webhook URL: "+err.Error())
	}
	return u, nil
}

func validateEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, approval.Errorf(approval.CodeInvalid, "events must list at least one event (%s, or * for all)", strings.Join(Events, ", "))
	}
	out := make([]string, 0, len(events))
	for _, e := range events {
		e = strings.TrimSpace(e)
		if !ValidEvent(e) {
			return nil, approval.Errorf(approval.CodeInvalid, "unknown event %q (known: %s, or * for all)", e, strings.Join(Events, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func validateSecret(secret string) error {
	if len(secret) < MinSecretLen || len(secret) > MaxSecretLen {
		return approval.Errorf(approval.CodeInvalid, "secret must be between %d and %d characters (omit it to have one generated)", MinSecretLen, MaxSecretLen)
	}
	for _, r := range secret {
		if r < 0x21 || r > 0x7e {
			return approval.Errorf(approval.CodeInvalid, "secret must be printable ASCII without spaces")
		}
	}
	return nil
}

// Create validates in and stores a new webhook. It returns the webhook
// and its secret in plaintext, which is shown this once.
//
// Errors: CodeInvalid for a bad URL (with the reason), an unknown event or
// a bad secret.
func (s *Service) Create(ctx context.Context, by approval.Actor, in Input) (*Webhook, string, error) {
	u, err := s.validateURL(ctx, in.URL)
	if err != nil {
		return nil, "", err
	}
	events, err := validateEvents(in.Events)
	if err != nil {
		return nil, "", err
	}
	secret := in.Secret
	if secret == "" {
		secret = GenerateSecret()
	} else if err := validateSecret(secret); err != nil {
		return nil, "", err
	}
	w := &Webhook{ID: approval.NewID("whk_"), URL: u, Events: events, Enabled: in.Enabled == nil || *in.Enabled, CreatedBy: by.Name}
	w.Secret = s.cipher.Seal(secret, w.ID)
	err = s.store.WithWebhookTx(ctx, func(tx Tx) error {
		w.CreatedAt, w.UpdatedAt = tx.Now(), tx.Now()
		return tx.WebhookInsert(ctx, w)
	})
	if err != nil {
		return nil, "", err
	}
	return w, secret, nil
}

// List returns the webhooks, oldest first.
func (s *Service) List(ctx context.Context) ([]*Webhook, error) { return s.store.WebhookList(ctx) }

// Get returns webhook id, or CodeNotFound (also for a deleted one).
func (s *Service) Get(ctx context.Context, id string) (*Webhook, error) {
	w, err := s.store.WebhookGetByID(ctx, id)
	if errors.Is(err, approval.ErrNotFound) || (err == nil && !w.DeletedAt.IsZero()) {
		return nil, notFound(err)
	}
	return w, err
}

// Update applies p to webhook id. A new secret from RotateSecret is
// returned once; otherwise the returned secret is "". Disabling the
// webhook cancels its pending deliveries (reason "webhook disabled").
func (s *Service) Update(ctx context.Context, id string, p Patch) (*Webhook, string, error) {
	var (
		u, secret string
		events    []string
		err       error
	)
	if p.URL != nil {
		if u, err = s.validateURL(ctx, *p.URL); err != nil {
			return nil, "", err
		}
	}
	if p.Events != nil {
		if events, err = validateEvents(p.Events); err != nil {
			return nil, "", err
		}
	}
	if p.Secret != nil && p.RotateSecret {
		return nil, "", approval.Errorf(approval.CodeInvalid, "give either secret or rotateSecret, not both")
	}
	if p.Secret != nil {
		if err := validateSecret(*p.Secret); err != nil {
			return nil, "", err
		}
		secret = *p.Secret
	}
	if p.RotateSecret {
		secret = GenerateSecret()
	}
	var w *Webhook
	err = s.store.WithWebhookTx(ctx, func(tx Tx) error {
		var err error
		w, err = tx.WebhookGetByID(ctx, id)
		if errors.Is(err, approval.ErrNotFound) || (err == nil && !w.DeletedAt.IsZero()) {
			return notFound(err)
		}
		if err != nil {
			return err
		}
		if p.URL != nil {
			w.URL = u
		}
		if events != nil {
			w.Events = events
		}
		if secret != "" {
			w.Secret = s.cipher.Seal(secret, w.ID)
		}
		if p.Enabled != nil {
			w.Enabled = *p.Enabled
		}
		w.UpdatedAt = tx.Now()
		if err := tx.WebhookUpdate(ctx, w); err != nil {
			return err
		}
		if !w.Enabled {
			if _, err := tx.DeliveryCancelPending(ctx, w.ID, "webhook disabled"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if !p.RotateSecret {
		secret = ""
	}
	return w, secret, nil
}

// Delete removes webhook id: it disappears from the API and its pending
// deliveries are canceled (reason "webhook deleted"); the delivery log is
// kept.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.store.WithWebhookTx(ctx, func(tx Tx) error {
		w, err := tx.WebhookGetByID(ctx, id)
		if errors.Is(err, approval.ErrNotFound) || (err == nil && !w.DeletedAt.IsZero()) {
			return notFound(err)
		}
		if err != nil {
			return err
		}
		w.DeletedAt, w.UpdatedAt, w.Enabled = tx.Now(), tx.Now(), false
		if err := tx.WebhookUpdate(ctx, w); err != nil {
			return err
		}
		_, err = tx.DeliveryCancelPending(ctx, w.ID, "webhook deleted")
		return err
	})
}

// Deliveries returns a page of a webhook's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, int64, error) {
	if _, err := s.Get(ctx, f.WebhookID); err != nil {
		return nil, 0, err
	}
	for _, st := range f.Statuses {
		if !slices.Contains(Statuses, st) {
			return nil, 0, approval.Errorf(approval.CodeInvalid, "unknown status %q (known: %s)", st, strings.Join(Statuses, ", "))
		}
	}
	if f.Limit <= 0 || f.Limit > approval.MaxPageSize {
		return nil, 0, approval.Errorf(approval.CodeInvalid, "limit must be between 1 and %d", approval.MaxPageSize)
	}
	return s.store.DeliveryList(ctx, f)
}

// Delivery returns one delivery of webhook webhookID with its attempts.
func (s *Service) Delivery(ctx context.Context, webhookID, id string) (*Delivery, []*Attempt, error) {
	if _, err := s.Get(ctx, webhookID); err != nil {
		return nil, nil, err
	}
	d, err := s.store.DeliveryGetByID(ctx, id)
	if errors.Is(err, approval.ErrNotFound) || (err == nil && d.WebhookID != webhookID) {
		return nil, nil, approval.Wrap(approval.CodeNotFound, err, "Delivery not found")
	}
	if err != nil {
		return nil, nil, err
	}
	as, err := s.store.AttemptList(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return d, as, nil
}

// Replay sends a finished delivery again, with the same id and payload,
// through the queue (with retries). The webhook must exist and be
// enabled.
//
// Errors: CodeNotFound for a missing delivery or webhook; CodeConflict when
// the delivery is still pending or the webhook is disabled.
func (s *Service) Replay(ctx context.Context, id string) (*Delivery, error) {
	var d *Delivery
	err := s.store.WithWebhookTx(ctx, func(tx Tx) error {
		var err error
		d, err = tx.DeliveryGetByID(ctx, id)
		if errors.Is(err, approval.ErrNotFound) {
			return approval.Wrap(approval.CodeNotFound, err, "Delivery not found")
		}
		if err != nil {
			return err
		}
		w, err := tx.WebhookGetByID(ctx, d.WebhookID)
		if errors.Is(err, approval.ErrNotFound) || (err == nil && !w.DeletedAt.IsZero()) {
			return notFound(err)
		}
		if err != nil {
			return err
		}
		if !w.Enabled {
			return approval.Errorf(approval.CodeConflict, "Webhook is disabled; enable it before replaying")
		}
		if d.Status == StatusPending {
			return approval.Errorf(approval.CodeConflict, "Delivery is already pending")
		}
		if err := tx.DeliveryRequeue(ctx, d.ID); err != nil {
			return err
		}
		if err := s.enqueueReplay(ctx, tx, d); err != nil {
			return err
		}
		d, err = tx.DeliveryGetByID(ctx, id)
		return err
	})
	return d, err
}

// EncryptPlaintextSecrets seals the secrets stored before a key was
// configured and returns how many it sealed. Without a key it does
// nothing. Each row is replaced only if it is unchanged, so replicas that
// run this together do no harm.
func (s *Service) EncryptPlaintextSecrets(ctx context.Context) (int, error) {
	if s.cipher == nil {
		return 0, nil
	}
	ws, err := s.store.WebhookList(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range ws {
		if IsSealed(w.Secret) {
			continue
		}
		err := s.store.WithWebhookTx(ctx, func(tx Tx) error {
			ok, err := tx.WebhookSetSecret(ctx, w.ID, w.Secret, s.cipher.Seal(w.Secret, w.ID))
			if ok {
				n++
			}
			return err
		})
		if err != nil {
			return n, fmt.Errorf("webhook: encrypt secret of %s: %w", w.ID, err)
		}
	}
	return n, nil
}

// TestResult is the answer of a test delivery.
type TestResult struct {
	Delivery *Delivery
	Result   Result
	Success  bool
}

// Test sends a signed "webhook.test" event to webhook id at once (also
// when it is disabled), records it in the delivery log and returns the
// outcome. It is not retried.
func (s *Service) Test(ctx context.Context, id string) (*TestResult, error) {
	w, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(map[string]string{"message": "This is a test delivery from AgentGate", "webhookId": w.ID})
	d := &Delivery{ID: approval.NewID("dlv_"), WebhookID: w.ID, Event: EventTest, Data: data, Status: StatusPending}
	err = s.store.WithWebhookTx(ctx, func(tx Tx) error {
		d.CreatedAt, d.UpdatedAt = tx.Now(), tx.Now()
		_, err := tx.DeliveryInsert(ctx, []*Delivery{d})
		return err
	})
	if err != nil {
		return nil, err
	}
	// Not through the sending slots: this is an interactive call, and it
	// sends one request.
	var res Result
	if secret, err := s.cipher.Open(w.Secret, w.ID); err != nil {
		res = Result{Err: err}
	} else {
		res = s.post(ctx, w.URL, secret, d, 1)
	}
	status := StatusFailed
	if outcomeOf(res) == outcomeSuccess {
		status = StatusSuccess
	}
	if err := s.record(ctx, d, res, 1, status, time.Time{}); err != nil {
		return nil, err
	}
	d, err = s.store.DeliveryGetByID(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	return &TestResult{Delivery: d, Result: res, Success: status == StatusSuccess}, nil
}
