package store

import (
	"testing"

	"github.com/agentgate/agentgate/internal/approval"
)

func TestWhereAddStatus(t *testing.T) {
	tests := []struct {
		status    approval.Status
		wantCond  string
		wantBound bool
	}{
		{approval.StatusPending, "status = 'pending'", false},
		{approval.StatusExpired, "status = 'expired'", false},
		// Anything else stays a bound parameter: only the four known
		// statuses are ever written into the SQL text.
		{"pending' OR 1=1 --", "status = $1", true},
		{"PENDING", "status = $1", true},
	}
	for _, tt := range tests {
		var w where
		w.addStatus("status", tt.status)
		if len(w.conds) != 1 || w.conds[0] != tt.wantCond {
			t.Errorf("addStatus(%q) conds = %q, want [%q]", tt.status, w.conds, tt.wantCond)
		}
		if bound := len(w.args) == 1; bound != tt.wantBound {
			t.Errorf("addStatus(%q) args = %v, want bound %v", tt.status, w.args, tt.wantBound)
		}
	}
}
