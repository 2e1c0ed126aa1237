package approval

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/agentgate/agentgate/internal/policy"
)

// PolicyFileActor records changes made by loading the policy file.
var PolicyFileActor = Actor{ID: "policy-file", Name: "policy file", Type: ActorSystem, Channel: "file"}

// FilePolicyID is the id a file policy without one gets: stable across
// restarts, derived from its name.
func FilePolicyID(name string) string {
	slug := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "-"), "-")
	return "pol_file_" + slug
}

// SyncResult counts what a policy file sync changed.
type SyncResult struct{ Added, Updated, Removed, Unchanged int }

// SyncFilePolicies makes the stored file policies equal ps (policies as
// code): new ones are added, changed ones updated, ones no longer in the
// file removed — in one transaction, each change audited. Policies created
// through the API are left alone; an id clash with one is an error.
func (s *Service) SyncFilePolicies(ctx context.Context, ps []policy.Policy) (SyncResult, error) {
	var res SyncResult
	seen := map[string]bool{}
	for i := range ps {
		if ps[i].ID == "" {
			ps[i].ID = FilePolicyID(ps[i].Name)
		}
		if seen[ps[i].ID] {
			return res, Errorf(CodeInvalid, "policy file: two policies have the id %q (give them distinct names or ids)", ps[i].ID)
		}
		seen[ps[i].ID] = true
	}
	if _, err := policy.Compile(ps); err != nil {
		return res, policyError(err)
	}
	err := s.change(ctx, func(tx Tx) ([]Event, error) {
		res = SyncResult{}
		stored, err := tx.PolicyList(ctx)
		if err != nil {
			return nil, err
		}
		byID := map[string]StoredPolicy{}
		for _, sp := range stored {
			byID[sp.ID] = sp
		}
		now := tx.Now()
		for _, p := range ps {
			cur, ok := byID[p.ID]
			switch {
			case ok && cur.Source != PolicySourceFile:
				return nil, Errorf(CodeConflict, "policy file: id %q is already used by a policy created through the API", p.ID)
			case ok:
				if policyJSON(cur.Policy) == policyJSON(p) {
					res.Unchanged++
					continue
				}
				sp := &StoredPolicy{Policy: p, Source: PolicySourceFile, CreatedAt: cur.CreatedAt, UpdatedAt: now}
				if err := tx.PolicyUpdate(ctx, sp); err != nil {
					return nil, err
				}
				if err := tx.AuditInsert(ctx, policyAudit(EventPolicyUpdated, PolicyFileActor, sp, now)); err != nil {
					return nil, err
				}
				res.Updated++
			default:
				sp := &StoredPolicy{Policy: p, Source: PolicySourceFile, CreatedAt: now, UpdatedAt: now}
				if err := tx.PolicyInsert(ctx, sp); err != nil {
					return nil, err
				}
				if err := tx.AuditInsert(ctx, policyAudit(EventPolicyCreated, PolicyFileActor, sp, now)); err != nil {
					return nil, err
				}
				res.Added++
			}
		}
		for _, sp := range stored {
			if sp.Source == PolicySourceFile && !seen[sp.ID] {
				if err := tx.PolicyDelete(ctx, sp.ID); err != nil && !errors.Is(err, ErrNotFound) {
					return nil, err
				}
				if err := tx.AuditInsert(ctx, policyAudit(EventPolicyDeleted, PolicyFileActor, &sp, now)); err != nil {
					return nil, err
				}
				res.Removed++
			}
		}
		return nil, nil
	})
	return res, err
}

func policyJSON(p policy.Policy) string {
	b, _ := json.Marshal(p) // plain values: cannot fail
	return string(b)
}

// errFilePolicy refuses API changes to a policy the policy file manages:
// the next start would undo them.
func errFilePolicy(id string) error {
	return Errorf(CodeConflict, "policy %s is managed by the policy file (AGENTGATE_POLICY_FILE): change the file instead", id)
}
