package dashboard

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// keysPage is the Data of the keys template.
type keysPage struct {
	Keys   []*auth.Key
	Scopes []scopeInfo
	// Created holds a new key's plaintext: shown once, on the answer to
	// the form that created it, and never again.
	Created   *auth.Key
	Plaintext string
	// A failed create re-renders the form with its error and input.
	Error     string
	Name      string
	Chosen    []string
	RateLimit string
	Self      string // the signed-in key's id
}

type scopeInfo struct {
	Scope string
	Help  string
}

var scopeHelp = []scopeInfo{
	{string(auth.ScopeRequestCreate), "Agents: ask for approval"},
	{string(auth.ScopeRequestRead), "Read requests, history, audit and the event stream"},
	{string(auth.ScopeRequestDecide), "Approve and deny; sign in to this dashboard"},
	{string(auth.ScopeWebhookManage), "Manage webhooks"},
	{string(auth.ScopeAdmin), "Everything, including policies and keys"},
}

// Chose reports whether the form had scope s ticked.
func (p keysPage) Chose(s string) bool { return slices.Contains(p.Chosen, s) }

func (d *Dashboard) renderKeys(w http.ResponseWriter, r *http.Request, v *view, status int, pg keysPage) error {
	keys, err := d.keys.Keys(r.Context())
	if err != nil {
		return err
	}
	pg.Keys, pg.Scopes, pg.Self = keys, scopeHelp, v.p.KeyID
	d.render(w, r, v, status, "keys", &Page{Title: "API keys", Nav: "keys", Data: pg})
	return nil
}

// keysPage serves GET /keys.
func (d *Dashboard) keysPage(w http.ResponseWriter, r *http.Request, v *view) error {
	return d.renderKeys(w, r, v, http.StatusOK, keysPage{Chosen: []string{string(auth.ScopeRequestCreate)}})
}

// createKey serves POST /keys. The answer shows the key once; it is not a
// redirect, because the plaintext must not be kept anywhere to show it
// on a later GET.
func (d *Dashboard) createKey(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	pg := keysPage{Name: strings.TrimSpace(f.Get("name")), Chosen: f["scope"], RateLimit: strings.TrimSpace(f.Get("rateLimit"))}
	in := auth.KeyInput{Name: pg.Name}
	for _, s := range pg.Chosen {
		in.Scopes = append(in.Scopes, auth.Scope(s))
	}
	var err error
	if pg.RateLimit != "" {
		n, perr := strconv.Atoi(pg.RateLimit)
		if perr != nil {
			err = approval.Errorf(approval.CodeInvalid, "Rate limit must be a whole number of requests per minute, or empty for unlimited.")
		}
		in.RateLimit = &n
	}
	var k *auth.Key
	var plain string
	if err == nil {
		k, plain, err = d.keys.CreateKey(r.Context(), v.actor(), in)
	}
	if err != nil {
		if approval.ErrorCode(err) != approval.CodeInvalid {
			return err
		}
		pg.Error = approval.ErrorMessage(err)
		return d.renderKeys(w, r, v, httpapi.StatusOf(err), pg)
	}
	return d.renderKeys(w, r, v, http.StatusCreated, keysPage{Created: k, Plaintext: plain, Chosen: []string{string(auth.ScopeRequestCreate)}})
}

// revokeKey serves POST /keys/{id}/revoke; the key's sessions end with it.
func (d *Dashboard) revokeKey(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := d.keys.RevokeKey(r.Context(), v.actor(), r.PathValue("id")); err != nil {
		if approval.ErrorCode(err) == approval.CodeConflict {
			return d.renderKeys(w, r, v, http.StatusConflict, keysPage{Error: approval.ErrorMessage(err), Chosen: []string{string(auth.ScopeRequestCreate)}})
		}
		return err
	}
	redirect(w, r, "/keys?toast=key-revoked")
	return nil
}
