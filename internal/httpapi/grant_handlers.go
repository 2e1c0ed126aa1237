package httpapi

import (
	"net/http"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/wire"
)

func (s *Server) listGrants(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := pageParams(q)
	if err != nil {
		return err
	}
	f := approval.GrantFilter{AgentID: q.Get("agentId"), Action: q.Get("action"), ActiveOnly: q.Get("active") == "true", Limit: limit, Offset: offset}
	grants, total, err := s.approvals.Grants(r.Context(), f)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]wire.Grant, len(grants))
	for i, g := range grants {
		out[i] = wire.ToGrant(g, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": out, "pagination": wire.Page(total, limit, offset)})
	return nil
}

func (s *Server) revokeGrant(w http.ResponseWriter, r *http.Request) error {
	g, err := s.approvals.RevokeGrant(r.Context(), principal(r).Actor("api", approval.ActorHuman), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToGrant(g, time.Now()))
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := s.approvals.Groups(r.Context())
	if err != nil {
		return err
	}
	out := make([]wire.Group, len(gs))
	for i, g := range gs {
		out[i] = wire.ToGroup(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": out})
	return nil
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	gs, err := s.approvals.Groups(r.Context())
	if err != nil {
		return err
	}
	for _, g := range gs {
		if g.Name == r.PathValue("name") {
			writeJSON(w, http.StatusOK, wire.ToGroup(g))
			return nil
		}
	}
	return approval.Errorf(approval.CodeNotFound, "Group not found")
}

// saveGroup serves POST /api/groups {name, members} and
// PUT /api/groups/{name} {members}.
func (s *Server) saveGroup(w http.ResponseWriter, r *http.Request) error {
	fields, err := decodeObject(w, r, s.maxBody, "name", "members")
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if name == "" {
		if name, _, err = stringField(fields, "name"); err != nil {
			return err
		}
	}
	var members []string
	if _, err := decodeField(fields, "members", &members); err != nil {
		return err
	}
	g, err := s.approvals.SaveGroup(r.Context(), principal(r).Actor("api", approval.ActorHuman), name, members)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToGroup(g))
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.approvals.DeleteGroup(r.Context(), principal(r).Actor("api", approval.ActorHuman), name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "name": name})
	return nil
}
