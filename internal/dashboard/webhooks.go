package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/httpapi"
	"github.com/agentgate/agentgate/internal/webhook"
)

// webhooksPage is the Data of the webhooks (list) template.
type webhooksPage struct {
	Hooks  []*webhook.Webhook
	Events []string
	// Created holds a new webhook's secret: shown once, on the answer to
	// the form that created it.
	Created *webhook.Webhook
	Secret  string
	// A failed create re-renders the form with its error and input.
	Error  string
	URL    string
	Chosen []string
}

// Chose reports whether the form had event e ticked.
func (p webhooksPage) Chose(e string) bool { return slices.Contains(p.Chosen, e) }

// webhookPage is the Data of the webhook (detail) template.
type webhookPage struct {
	Hook       *webhook.Webhook
	Deliveries []*webhook.Delivery
	Pager      pager
	Status     string // the delivery filter
	Statuses   []string
	Test       *webhook.TestResult
	Selected   *webhook.Delivery // ?delivery=: its attempts are shown
	Attempts   []*webhook.Attempt
	Error      string
}

const deliveriesPageSize = 50

// webhookEvents are offered in the create form: every event, then "*".
func webhookEvents() []string { return append(append([]string{}, webhook.Events...), webhook.EventAll) }

func (d *Dashboard) renderWebhooks(w http.ResponseWriter, r *http.Request, v *view, status int, pg webhooksPage) error {
	hooks, err := d.webhooks.List(r.Context())
	if err != nil {
		return err
	}
	live := hooks[:0]
	for _, h := range hooks {
		if h.DeletedAt.IsZero() {
			live = append(live, h)
		}
	}
	pg.Hooks, pg.Events = live, webhookEvents()
	d.render(w, r, v, status, "webhooks", &Page{Title: "Webhooks", Nav: "webhooks", Data: pg})
	return nil
}

// webhooksPage serves GET /webhooks.
func (d *Dashboard) webhooksPage(w http.ResponseWriter, r *http.Request, v *view) error {
	return d.renderWebhooks(w, r, v, http.StatusOK, webhooksPage{Chosen: []string{webhook.EventRequestCreated, webhook.EventRequestDecided}})
}

// createWebhook serves POST /webhooks. The answer shows the signing
// secret once; it is not a redirect, so the secret is kept nowhere.
func (d *Dashboard) createWebhook(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	pg := webhooksPage{URL: strings.TrimSpace(r.PostForm.Get("url")), Chosen: r.PostForm["event"]}
	events := pg.Chosen
	if len(events) == 0 {
		pg.Error = "Choose at least one event."
		return d.renderWebhooks(w, r, v, http.StatusBadRequest, pg)
	}
	hook, secret, err := d.webhooks.Create(r.Context(), v.actor(), webhook.Input{URL: pg.URL, Events: events, Secret: r.PostForm.Get("secret")})
	if err != nil {
		if approval.ErrorCode(err) != approval.CodeInvalid {
			return err
		}
		pg.Error = approval.ErrorMessage(err)
		return d.renderWebhooks(w, r, v, http.StatusBadRequest, pg)
	}
	return d.renderWebhooks(w, r, v, http.StatusCreated, webhooksPage{Created: hook, Secret: secret,
		Chosen: []string{webhook.EventRequestCreated, webhook.EventRequestDecided}})
}

func (d *Dashboard) webhookDetail(r *http.Request, id string) (*webhookPage, error) {
	hook, err := d.webhooks.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	offset, err := offsetParam(r)
	if err != nil {
		return nil, err
	}
	pg := &webhookPage{Hook: hook, Status: q.Get("status"), Statuses: webhook.Statuses}
	f := webhook.DeliveryFilter{WebhookID: hook.ID, Limit: deliveriesPageSize, Offset: offset}
	if pg.Status != "" {
		f.Statuses = []string{pg.Status}
	}
	ds, total, err := d.webhooks.Deliveries(r.Context(), f)
	if err != nil {
		return nil, err
	}
	pg.Deliveries = ds
	pg.Pager = newPager("/webhooks/"+url.PathEscape(hook.ID), q, total, offset, deliveriesPageSize, len(ds))
	if did := q.Get("delivery"); did != "" {
		if pg.Selected, pg.Attempts, err = d.webhooks.Delivery(r.Context(), hook.ID, did); err != nil {
			return nil, err
		}
	}
	return pg, nil
}

// webhook serves GET /webhooks/{id}: the webhook and its delivery log.
func (d *Dashboard) webhook(w http.ResponseWriter, r *http.Request, v *view) error {
	pg, err := d.webhookDetail(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.render(w, r, v, http.StatusOK, "webhook", &Page{Title: "Webhook", Nav: "webhooks", Data: pg})
	return nil
}

// toggleWebhook serves POST /webhooks/{id}/toggle; disabling cancels the
// webhook's pending deliveries.
func (d *Dashboard) toggleWebhook(w http.ResponseWriter, r *http.Request, _ *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	on := r.PostForm.Get("enabled") == "true"
	hook, _, err := d.webhooks.Update(r.Context(), r.PathValue("id"), webhook.Patch{Enabled: &on})
	if err != nil {
		return err
	}
	toast := "webhook-off"
	if hook.Enabled {
		toast = "webhook-on"
	}
	redirect(w, r, withToast(localPath(r.PostForm.Get("next"), "/webhooks"), toast))
	return nil
}

// testWebhook serves POST /webhooks/{id}/test: one signed test delivery,
// sent at once, and its outcome.
func (d *Dashboard) testWebhook(w http.ResponseWriter, r *http.Request, v *view) error {
	res, err := d.webhooks.Test(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	pg, err := d.webhookDetail(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg.Test = res
	d.render(w, r, v, http.StatusOK, "webhook", &Page{Title: "Webhook", Nav: "webhooks", Data: pg})
	return nil
}

// deleteWebhook serves POST /webhooks/{id}/delete.
func (d *Dashboard) deleteWebhook(w http.ResponseWriter, r *http.Request, _ *view) error {
	if err := d.webhooks.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/webhooks?toast=webhook-del")
	return nil
}

// replayDelivery serves POST /webhooks/{id}/deliveries/{did}/replay.
func (d *Dashboard) replayDelivery(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if _, _, err := d.webhooks.Delivery(r.Context(), id, r.PathValue("did")); err != nil {
		return err
	}
	if _, err := d.webhooks.Replay(r.Context(), r.PathValue("did")); err != nil {
		if approval.ErrorCode(err) != approval.CodeConflict {
			return err
		}
		pg, perr := d.webhookDetail(r, id)
		if perr != nil {
			return err
		}
		pg.Error = approval.ErrorMessage(err)
		d.render(w, r, v, httpapi.StatusOf(err), "webhook", &Page{Title: "Webhook", Nav: "webhooks", Data: pg})
		return nil
	}
	redirect(w, r, "/webhooks/"+url.PathEscape(id)+"?toast=replayed")
	return nil
}
