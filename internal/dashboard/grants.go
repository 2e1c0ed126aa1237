package dashboard

import (
	"net/http"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/auth"
)

// grantsPageSize is how many past grants a page lists.
const grantsPageSize = 50

// grantsPage is the Data of the grants template.
type grantsPage struct {
	// Active are the grants that approve requests now (all of them, up to
	// the service's largest page); Past are ended ones, newest first.
	Active      []*grantView
	ActiveTotal int64
	Past        []*grantView
	Pager       pager
	CanRevoke   bool
}

// grants serves GET /grants: the time-boxed approvals people gave with
// "also approve the same for the next …", active first.
func (d *Dashboard) grants(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	offset, err := offsetParam(r)
	if err != nil {
		return err
	}
	active, activeTotal, err := d.approvals.Grants(ctx, approval.GrantFilter{ActiveOnly: true, Limit: approval.MaxPageSize})
	if err != nil {
		return err
	}
	all, total, err := d.approvals.Grants(ctx, approval.GrantFilter{Limit: grantsPageSize, Offset: offset})
	if err != nil {
		return err
	}
	agents, err := d.agentNames(ctx)
	if err != nil {
		return err
	}
	now := d.now()
	pg := grantsPage{ActiveTotal: activeTotal, CanRevoke: v.p.Has(auth.ScopeRequestDecide)}
	for _, g := range active {
		pg.Active = append(pg.Active, newGrantView(g, agents, now))
	}
	for _, g := range all {
		if gv := newGrantView(g, agents, now); !gv.Active {
			pg.Past = append(pg.Past, gv)
		}
	}
	pg.Pager = newPager("/grants", r.URL.Query(), total, offset, grantsPageSize, len(all))
	d.render(w, r, v, http.StatusOK, "grants", &Page{Title: "Grants", Nav: "grants", Data: pg})
	return nil
}

// revokeGrant serves POST /grants/{id}/revoke: the grant ends at once;
// requests it would have approved go to a person again.
func (d *Dashboard) revokeGrant(w http.ResponseWriter, r *http.Request, v *view) error {
	if _, err := d.approvals.RevokeGrant(r.Context(), v.actor(), r.PathValue("id")); err != nil {
		return err
	}
	redirect(w, r, "/grants?toast=grant-revoked")
	return nil
}
