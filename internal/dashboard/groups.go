package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// groupForm is the group form as entered, shown again with its error.
type groupForm struct {
	Name    string
	Members string // one identity a line (commas also separate)
	Editing string // the group whose edit form failed; "" for the new-group form
	Error   string
}

// splitMembers reads the members box: one identity per line or
// separated by commas, blanks ignored.
func splitMembers(s string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if m := strings.TrimSpace(line); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// saveGroup serves POST /groups: create a group (mode=create refuses a
// name in use) or replace one's members. Groups from the policy file are
// read-only; the service refuses them.
func (d *Dashboard) saveGroup(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	gf := groupForm{Name: strings.TrimSpace(f.Get("name")), Members: f.Get("members")}
	creating := f.Get("mode") == "create"
	if !creating {
		gf.Editing = gf.Name
	}
	var err error
	if creating {
		gs, lerr := d.approvals.Groups(r.Context())
		if lerr != nil {
			return lerr
		}
		for _, g := range gs {
			if g.Name == gf.Name {
				err = approval.Errorf(approval.CodeConflict, "A group named %s already exists: edit it in the list instead.", gf.Name)
			}
		}
	}
	if err == nil {
		_, err = d.approvals.SaveGroup(r.Context(), v.actor(), gf.Name, splitMembers(gf.Members))
	}
	if err != nil {
		switch approval.ErrorCode(err) {
		case approval.CodeInvalid, approval.CodeConflict:
			gf.Error = approval.ErrorMessage(err)
			return d.renderPolicies(w, r, v, httpapi.StatusOf(err), policiesPage{Sample: newSample(), Group: gf})
		}
		return err
	}
	redirect(w, r, "/policies?toast=group-saved#group-"+url.PathEscape(gf.Name))
	return nil
}

// deleteGroup serves POST /groups/{name}/delete. Rules that name the
// group then match nobody through it.
func (d *Dashboard) deleteGroup(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := d.approvals.DeleteGroup(r.Context(), v.actor(), r.PathValue("name")); err != nil {
		if approval.ErrorCode(err) == approval.CodeConflict {
			return d.renderPolicies(w, r, v, http.StatusConflict, policiesPage{Sample: newSample(),
				Group: groupForm{Editing: r.PathValue("name"), Error: approval.ErrorMessage(err)}})
		}
		return err
	}
	redirect(w, r, "/policies?toast=group-deleted#groups")
	return nil
}
