package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/webhook"
	"github.com/agentgate/agentgate/internal/wire"
)

// webhookWire is a webhook on the wire; its secret never is (it is shown
// once, when created or rotated).
type webhookWire struct {
	ID              string    `json:"id"`
	URL             string    `json:"url"`
	Events          []string  `json:"events"`
	Enabled         bool      `json:"enabled"`
	SecretEncrypted bool      `json:"secretEncrypted"`
	CreatedBy       string    `json:"createdBy"`
	CreatedAt       wire.Time `json:"createdAt"`
	UpdatedAt       wire.Time `json:"updatedAt"`
}

func toWebhookWire(w *webhook.Webhook) webhookWire {
	return webhookWire{ID: w.ID, URL: w.URL, Events: w.Events, Enabled: w.Enabled, SecretEncrypted: webhook.IsSealed(w.Secret),
		CreatedBy: w.CreatedBy, CreatedAt: wire.Time(w.CreatedAt), UpdatedAt: wire.Time(w.UpdatedAt)}
}

// deliveryWire is one entry of the delivery log.
type deliveryWire struct {
	ID             string    `json:"id"`
	WebhookID      string    `json:"webhookId"`
	Event          string    `json:"event"`
	RequestID      *string   `json:"requestId"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts"`
	LastStatusCode *int      `json:"lastStatusCode"`
	LastError      *string   `json:"lastError"`
	NextAttemptAt  wire.Time `json:"nextAttemptAt"`
	CreatedAt      wire.Time `json:"createdAt"`
	UpdatedAt      wire.Time `json:"updatedAt"`
	CompletedAt    wire.Time `json:"completedAt"`
}

func intPtr(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func toDeliveryWire(d *webhook.Delivery) deliveryWire {
	return deliveryWire{ID: d.ID, WebhookID: d.WebhookID, Event: d.Event, RequestID: wire.StrPtr(d.RequestID), Status: d.Status,
		Attempts: d.Attempts, LastStatusCode: intPtr(d.LastStatusCode), LastError: wire.StrPtr(d.LastError),
		NextAttemptAt: wire.Time(d.NextAttemptAt), CreatedAt: wire.Time(d.CreatedAt), UpdatedAt: wire.Time(d.UpdatedAt),
		CompletedAt: wire.Time(d.CompletedAt)}
}

// attemptWire is one HTTP attempt of a delivery.
type attemptWire struct {
	Attempt      int       `json:"attempt"`
	StatusCode   *int      `json:"statusCode"`
	Error        *string   `json:"error"`
	ResponseBody *string   `json:"responseBody"`
	DurationMs   int64     `json:"durationMs"`
	At           wire.Time `json:"at"`
}

var (
	webhookCreateFields = []string{"url", "events", "secret", "enabled"}
	webhookPatchFields  = []string{"url", "events", "secret", "enabled", "rotateSecret"}
)

// webhookEvents decodes the events field: a list of strings.
func webhookEvents(fields map[string]json.RawMessage) ([]string, bool, error) {
	var events []string
	ok, err := decodeField(fields, "events", &events)
	if err != nil {
		return nil, ok, approval.Errorf(approval.CodeInvalid, "events must be a list of event names")
	}
	if ok && events == nil {
		events = []string{}
	}
	return events, ok, nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, webhookCreateFields...)
	if err != nil {
		return err
	}
	var in webhook.Input
	url, ok, err := stringField(fields, "url")
	if err != nil {
		return err
	}
	if !ok {
		return approval.Errorf(approval.CodeInvalid, "url is required")
	}
	in.URL = url
	events, ok, err := webhookEvents(fields)
	if err != nil {
		return err
	}
	if !ok {
		return approval.Errorf(approval.CodeInvalid, "events is required: a list of event names (%s), or [\"*\"] for all", strings.Join(webhook.Events, ", "))
	}
	in.Events = events
	if in.Secret, _, err = stringField(fields, "secret"); err != nil {
		return err
	}
	var enabled bool
	if ok, err := decodeField(fields, "enabled", &enabled); err != nil {
		return err
	} else if ok {
		in.Enabled = &enabled
	}
	wh, secret, err := s.webhooks.Create(r.Context(), principal(r).Actor("api", approval.ActorHuman), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/webhooks/"+wh.ID)
	writeJSON(w, http.StatusCreated, struct {
		webhookWire
		Secret  string `json:"secret"`
		Message string `json:"message"`
	}{toWebhookWire(wh), secret, "Save the secret now: it is not shown again. It signs every delivery (X-AgentGate-Signature)."})
	return nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.webhooks.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]webhookWire, len(ws))
	for i, wh := range ws {
		out[i] = toWebhookWire(wh)
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
	return nil
}

// recentDeliveries is how many deliveries GET /api/webhooks/{id} shows.
const recentDeliveries = 20

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.webhooks.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, _, err := s.webhooks.Deliveries(r.Context(), webhook.DeliveryFilter{WebhookID: wh.ID, Limit: recentDeliveries})
	if err != nil {
		return err
	}
	out := make([]deliveryWire, len(ds))
	for i, d := range ds {
		out[i] = toDeliveryWire(d)
	}
	writeJSON(w, http.StatusOK, struct {
		webhookWire
		Deliveries []deliveryWire `json:"deliveries"`
	}{toWebhookWire(wh), out})
	return nil
}

func (s *Server) patchWebhook(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, webhookPatchFields...)
	if err != nil {
		return err
	}
	var p webhook.Patch
	if u, ok, err := stringField(fields, "url"); err != nil {
		return err
	} else if ok {
		p.URL = &u
	}
	if events, ok, err := webhookEvents(fields); err != nil {
		return err
	} else if ok {
		p.Events = events
	}
	if sec, ok, err := stringField(fields, "secret"); err != nil {
		return err
	} else if ok {
		p.Secret = &sec
	}
	var enabled bool
	if ok, err := decodeField(fields, "enabled", &enabled); err != nil {
		return err
	} else if ok {
		p.Enabled = &enabled
	}
	if _, err := decodeField(fields, "rotateSecret", &p.RotateSecret); err != nil {
		return err
	}
	wh, secret, err := s.webhooks.Update(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	if secret != "" {
		writeJSON(w, http.StatusOK, struct {
			webhookWire
			Secret  string `json:"secret"`
			Message string `json:"message"`
		}{toWebhookWire(wh), secret, "Save the new secret now: it is not shown again."})
		return nil
	}
	writeJSON(w, http.StatusOK, toWebhookWire(wh))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.webhooks.Delete(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "id": id})
	return nil
}

func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	res, err := s.webhooks.Test(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	errText := ""
	if !res.Success {
		errText = res.Delivery.LastError
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"success":      res.Success,
		"statusCode":   intPtr(res.Result.StatusCode),
		"durationMs":   res.Result.Duration.Milliseconds(),
		"error":        wire.StrPtr(errText),
		"responseBody": wire.StrPtr(res.Result.Body),
		"delivery":     toDeliveryWire(res.Delivery),
	})
	return nil
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := pageParams(q)
	if err != nil {
		return err
	}
	f := webhook.DeliveryFilter{WebhookID: r.PathValue("id"), Limit: limit, Offset: offset}
	for st := range strings.SplitSeq(q.Get("status"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			f.Statuses = append(f.Statuses, st)
		}
	}
	ds, total, err := s.webhooks.Deliveries(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]deliveryWire, len(ds))
	for i, d := range ds {
		out[i] = toDeliveryWire(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out, "pagination": wire.Page(total, limit, offset)})
	return nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	d, attempts, err := s.webhooks.Delivery(r.Context(), r.PathValue("id"), r.PathValue("deliveryId"))
	if err != nil {
		return err
	}
	log := make([]attemptWire, len(attempts))
	for i, a := range attempts {
		log[i] = attemptWire{Attempt: a.Attempt, StatusCode: intPtr(a.StatusCode), Error: wire.StrPtr(a.Error),
			ResponseBody: wire.StrPtr(a.ResponseBody), DurationMs: a.Duration.Milliseconds(), At: wire.Time(a.CreatedAt)}
	}
	writeJSON(w, http.StatusOK, struct {
		deliveryWire
		Data       json.RawMessage `json:"data"`
		AttemptLog []attemptWire   `json:"attemptLog"`
	}{toDeliveryWire(d), d.Data, log})
	return nil
}

func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := s.webhooks.Replay(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"success": true, "delivery": toDeliveryWire(d),
		"message": "Delivery queued: it is sent again with the same id and payload, with retries"})
	return nil
}
