package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
	"github.com/agentgate/agentgate/internal/wire"
)

var keyFields = []string{"name", "scopes", "rateLimit"}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, keyFields...)
	if err != nil {
		return err
	}
	var in auth.KeyInput
	if in.Name, _, err = stringField(fields, "name"); err != nil {
		return err
	}
	if _, err := decodeField(fields, "scopes", &in.Scopes); err != nil {
		return err
	}
	if _, err := decodeField(fields, "rateLimit", &in.RateLimit); err != nil {
		return approval.Errorf(approval.CodeInvalid, "rateLimit must be null (unlimited) or a whole number of requests per minute")
	}
	// Absent takes AGENTGATE_DEFAULT_RATE_LIMIT; an explicit null is unlimited.
	if raw, ok := fields["rateLimit"]; ok && isNull(raw) {
		in.Unlimited = true
	}
	k, plain, err := s.auth.CreateKey(r.Context(), principal(r).Actor("api", approval.ActorHuman), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/keys/"+k.ID)
	writeJSON(w, http.StatusCreated, wire.CreatedKey{Key: wire.ToKey(k), Secret: plain, Message: "Save this key - it will not be shown again"})
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.auth.Keys(r.Context())
	if err != nil {
		return err
	}
	out := make([]wire.Key, len(keys))
	for i, k := range keys {
		out[i] = wire.ToKey(k)
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

func (s *Server) updateKey(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, keyFields...)
	if err != nil {
		return err
	}
	var p auth.KeyPatch
	if name, ok, err := stringField(fields, "name"); err != nil {
		return err
	} else if ok {
		p.Name = &name
	}
	var scopes []auth.Scope
	if ok, err := decodeField(fields, "scopes", &scopes); err != nil {
		return err
	} else if ok {
		p.Scopes = &scopes
	}
	if raw, ok := fields["rateLimit"]; ok {
		if isNull(raw) {
			p.ClearRateLimit = true
		} else {
			var rl int
			if err := json.Unmarshal(raw, &rl); err != nil {
				return approval.Errorf(approval.CodeInvalid, "rateLimit must be null (unlimited) or a whole number of requests per minute")
			}
			p.RateLimit = &rl
		}
	}
	k, err := s.auth.UpdateKey(r.Context(), principal(r).Actor("api", approval.ActorHuman), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToKey(k))
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.auth.RevokeKey(r.Context(), principal(r).Actor("api", approval.ActorHuman), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "id": id, "message": "API key revoked"})
	return nil
}
