package approval

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/agentgate/agentgate/internal/policy"
)

// Groups lists the approver groups.
func (s *Service) Groups(ctx context.Context) ([]*Group, error) { return s.store.GroupList(ctx) }

// MaxGroupMembers bounds a group.
const MaxGroupMembers = 1000

func validateGroup(name string, members []string) ([]string, error) {
	if !policy.ValidGroupName(name) {
		return nil, Errorf(CodeInvalid, "group name must be 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit")
	}
	if len(members) == 0 || len(members) > MaxGroupMembers {
		return nil, Errorf(CodeInvalid, "members must list between 1 and %d identities (key names or ids, slack:U…, email:…)", MaxGroupMembers)
	}
	out := make([]string, 0, len(members))
	for _, m := range members {
		m = strings.TrimSpace(m)
		if m == "" || strings.HasPrefix(m, "group:") {
			return nil, Errorf(CodeInvalid, "members must be non-empty identities, not groups")
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// SaveGroup creates or replaces group name. Groups from the policy file
// are read-only here.
func (s *Service) SaveGroup(ctx context.Context, by Actor, name string, members []string) (*Group, error) {
	members, err := validateGroup(name, members)
	if err != nil {
		return nil, err
	}
	var out *Group
	err = s.change(ctx, func(tx Tx) ([]Event, error) {
		gs, err := tx.GroupList(ctx)
		if err != nil {
			return nil, err
		}
		now := tx.Now()
		g := &Group{Name: name, Members: members, Source: PolicySourceAPI, CreatedAt: now, UpdatedAt: now}
		for _, cur := range gs {
			if cur.Name == name {
				if cur.Source == PolicySourceFile {
					return nil, Errorf(CodeConflict, "group %s is managed by the policy file (AGENTGATE_POLICY_FILE): change the file instead", name)
				}
				g.CreatedAt = cur.CreatedAt
			}
		}
		if err := tx.GroupUpsert(ctx, g); err != nil {
			return nil, err
		}
		out = g
		return nil, tx.AuditInsert(ctx, &AuditEvent{EventType: EventGroupSaved, Actor: by.Name, ActorID: by.ID, ActorType: by.Type,
			CreatedAt: now, Details: details(map[string]any{"group": name, "members": members})})
	})
	return out, err
}

// DeleteGroup removes group name.
func (s *Service) DeleteGroup(ctx context.Context, by Actor, name string) error {
	return s.change(ctx, func(tx Tx) ([]Event, error) {
		gs, err := tx.GroupList(ctx)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			if g.Name == name && g.Source == PolicySourceFile {
				return nil, Errorf(CodeConflict, "group %s is managed by the policy file (AGENTGATE_POLICY_FILE): change the file instead", name)
			}
		}
		if err := tx.GroupDelete(ctx, name); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, Wrap(CodeNotFound, err, "Group not found")
			}
			return nil, err
		}
		return nil, tx.AuditInsert(ctx, &AuditEvent{EventType: EventGroupDeleted, Actor: by.Name, ActorID: by.ID, ActorType: by.Type,
			CreatedAt: tx.Now(), Details: details(map[string]any{"group": name})})
	})
}

// SyncFileGroups makes the file-managed groups equal groups.
func (s *Service) SyncFileGroups(ctx context.Context, groups map[string][]string) error {
	for name, members := range groups {
		m, err := validateGroup(name, members)
		if err != nil {
			return Errorf(CodeInvalid, "policy file: group %s: %s", name, ErrorMessage(err))
		}
		groups[name] = m
	}
	return s.change(ctx, func(tx Tx) ([]Event, error) {
		gs, err := tx.GroupList(ctx)
		if err != nil {
			return nil, err
		}
		now := tx.Now()
		cur := map[string]*Group{}
		for _, g := range gs {
			cur[g.Name] = g
		}
		for name, members := range groups {
			g, ok := cur[name]
			if ok && g.Source != PolicySourceFile {
				return nil, Errorf(CodeConflict, "policy file: group %s already exists and was created through the API", name)
			}
			if ok && slices.Equal(g.Members, members) {
				continue
			}
			ng := &Group{Name: name, Members: members, Source: PolicySourceFile, CreatedAt: now, UpdatedAt: now}
			if ok {
				ng.CreatedAt = g.CreatedAt
			}
			if err := tx.GroupUpsert(ctx, ng); err != nil {
				return nil, err
			}
			if err := tx.AuditInsert(ctx, &AuditEvent{EventType: EventGroupSaved, Actor: PolicyFileActor.Name, ActorID: PolicyFileActor.ID,
				ActorType: ActorSystem, CreatedAt: now, Details: details(map[string]any{"group": name, "members": members})}); err != nil {
				return nil, err
			}
		}
		for _, g := range gs {
			if _, keep := groups[g.Name]; g.Source == PolicySourceFile && !keep {
				if err := tx.GroupDelete(ctx, g.Name); err != nil {
					return nil, err
				}
			}
		}
		return nil, nil
	})
}
