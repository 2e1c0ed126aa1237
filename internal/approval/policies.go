package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/policy"
)

// StoredPolicy is a policy as kept in the database.
type StoredPolicy struct {
	policy.Policy
	Source    string // "api" or "file"
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Policy sources.
const (
	PolicySourceAPI  = "api"
	PolicySourceFile = "file"
)

// policyCache holds the compiled policy set. It is refreshed whenever the
// policy generation stored in the database differs from the cached one;
// the generation is read inside the creating transaction, so a change
// committed by any process is in force for the very next request.
type policyCache struct {
	log *slog.Logger

	mu  sync.Mutex
	gen int64
	set *policy.Set
}

func (c *policyCache) current(ctx context.Context, tx Tx) (*policy.Set, error) {
	gen, err := tx.PolicyGeneration(ctx)
	if err != nil {
		return nil, fmt.Errorf("read policy generation: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set != nil && c.gen == gen {
		return c.set, nil
	}
	stored, err := tx.PolicyList(ctx)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	set, err := compileStored(stored, c.log)
	if err != nil {
		return nil, err
	}
	c.gen, c.set = gen, set
	return set, nil
}

// compileStored compiles stored policies. A stored policy that no longer
// compiles (saved by an older version, edited in the database) is left out
// and logged: leaving it out can only route more requests to people,
// because no match means route_to_human.
func compileStored(stored []StoredPolicy, log *slog.Logger) (*policy.Set, error) {
	ps := make([]policy.Policy, 0, len(stored))
	for _, sp := range stored {
		if err := policy.Validate(sp.Policy); err != nil {
			log.Error("stored policy does not compile; it is skipped", "policy_id", sp.ID, "policy", sp.Name, "err", err)
			continue
		}
		ps = append(ps, sp.Policy)
	}
	set, err := policy.Compile(ps)
	if err != nil {
		return nil, fmt.Errorf("compile policies: %w", err)
	}
	return set, nil
}

// policyError turns a policy validation error into a 400 naming the
// policy, rule index and field.
func policyError(err error) error {
	if ve, ok := errors.AsType[*policy.ValidationError](err); ok {
		msgs := make([]string, 0, len(ve.Errors))
		for _, fe := range ve.Errors {
			msgs = append(msgs, fe.Error())
		}
		return &Error{Code: CodeInvalid, Message: "invalid policy: " + strings.Join(msgs, "; "), Err: err}
	}
	return Wrap(CodeInvalid, err, "invalid policy")
}
