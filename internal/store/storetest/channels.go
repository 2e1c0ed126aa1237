package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
	"github.com/agentgate/agentgate/internal/store"
)

func withChannelTx(t *testing.T, s *store.Store, fn func(tx channels.Tx) error) {
	t.Helper()
	if err := s.WithChannelTx(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func testNotifications(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	r1, r2 := Request(t, s, nil), Request(t, s, nil)
	now := c.now()
	a := &channels.Notification{ID: "ntf_a", RequestID: r1.ID, Channel: "slack", Target: "#ops", Reason: channels.ReasonCreated,
		Status: channels.StatusPending, CreatedAt: now, UpdatedAt: now}
	b := &channels.Notification{ID: "ntf_b", RequestID: r1.ID, Channel: "pager", Target: "x", Reason: channels.ReasonEscalated, Step: 2,
		Status: channels.StatusFailed, LastError: "unknown channel kind", CreatedAt: now.Add(time.Millisecond), UpdatedAt: now}
	d := &channels.Notification{ID: "ntf_d", RequestID: r2.ID, Channel: "email", Target: "a@example.com", Reason: channels.ReasonCreated,
		Status: channels.StatusPending, CreatedAt: now, UpdatedAt: now}
	withChannelTx(t, s, func(tx channels.Tx) error { return tx.NotificationInsert(ctx, []*channels.Notification{a, b, d}) })

	got, err := s.NotificationListByRequest(ctx, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*channels.Notification{a, b}, got); diff != "" {
		t.Fatalf("list (-want +got):\n%s", diff)
	}
	a.Status, a.ExternalChannel, a.ExternalID, a.Attempts, a.SentAt = channels.StatusSent, "C1", "1700.1", 2, now.Add(time.Second)
	withChannelTx(t, s, func(tx channels.Tx) error {
		if err := tx.NotificationUpdate(ctx, a); err != nil {
			return err
		}
		locked, err := tx.NotificationLock(ctx, "ntf_a")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(a, locked); diff != "" {
			t.Errorf("lock after update (-want +got):\n%s", diff)
		}
		both, err := tx.NotificationListByRequests(ctx, []string{r1.ID, r2.ID})
		if len(both) != 3 {
			t.Errorf("list by requests: %d rows", len(both))
		}
		return err
	})
	if got, err := s.NotificationGetByID(ctx, "ntf_a"); err != nil || got.ExternalID != "1700.1" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.NotificationGetByID(ctx, "ntf_none"); !errors.Is(err, approval.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	err = s.WithChannelTx(ctx, func(tx channels.Tx) error {
		return tx.NotificationUpdate(ctx, &channels.Notification{ID: "ntf_none", UpdatedAt: now})
	})
	if !errors.Is(err, approval.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func testDecisionLinks(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	r := Request(t, s, nil)
	now := c.now()
	n := &channels.Notification{ID: "ntf_1", RequestID: r.ID, Channel: "email", Target: "a@example.com", Reason: channels.ReasonCreated,
		Status: channels.StatusPending, CreatedAt: now, UpdatedAt: now}
	n2 := &channels.Notification{ID: "ntf_2", RequestID: r.ID, Channel: "email", Target: "b@example.com", Reason: channels.ReasonCreated,
		Status: channels.StatusPending, CreatedAt: now, UpdatedAt: now}
	link := func(id, recipient, notif string, d approval.Status) *channels.DecisionLink {
		return &channels.DecisionLink{ID: id, TokenHash: "hash-" + id, RequestID: r.ID, NotificationID: notif, Recipient: recipient,
			Decision: d, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
	}
	withChannelTx(t, s, func(tx channels.Tx) error {
		if err := tx.NotificationInsert(ctx, []*channels.Notification{n, n2}); err != nil {
			return err
		}
		// A first attempt's pair, replaced by a retry's.
		if err := tx.DecisionLinkReplace(ctx, "ntf_1", []*channels.DecisionLink{link("old_a", "a@example.com", "ntf_1", "approved")}); err != nil {
			return err
		}
		if err := tx.DecisionLinkReplace(ctx, "ntf_1", []*channels.DecisionLink{link("a_yes", "a@example.com", "ntf_1", "approved"),
			link("a_no", "a@example.com", "ntf_1", "denied")}); err != nil {
			return err
		}
		return tx.DecisionLinkReplace(ctx, "ntf_2", []*channels.DecisionLink{link("b_yes", "b@example.com", "ntf_2", "approved")})
	})
	if _, err := s.DecisionLinkGetByHash(ctx, "hash-old_a"); !errors.Is(err, approval.ErrNotFound) {
		t.Fatalf("replaced link still there: %v", err)
	}
	use := func(id string, at time.Time) bool {
		var ok bool
		withChannelTx(t, s, func(tx channels.Tx) error {
			var err error
			ok, err = tx.DecisionLinkUse(ctx, id, at)
			return err
		})
		return ok
	}
	if use("a_yes", now.Add(2*time.Hour)) {
		t.Fatal("an expired link was spent")
	}
	if !use("a_yes", now) {
		t.Fatal("a fresh link was refused")
	}
	if use("a_yes", now) {
		t.Fatal("a link was spent twice")
	}
	if use("a_no", now) {
		t.Fatal("the sibling was spent after its pair")
	}
	if !use("b_yes", now) {
		t.Fatal("another recipient's link was invalidated")
	}
	yes, err := s.DecisionLinkGetByHash(ctx, "hash-a_yes")
	if err != nil || yes.UsedAt.IsZero() || !yes.InvalidatedAt.IsZero() {
		t.Fatalf("used link: %+v %v", yes, err)
	}
	no, err := s.DecisionLinkGetByHash(ctx, "hash-a_no")
	if err != nil || !no.UsedAt.IsZero() || no.InvalidatedAt.IsZero() || no.Decision != approval.StatusDenied {
		t.Fatalf("sibling: %+v %v", no, err)
	}
}

func testInteractionReplays(t *testing.T, open Open) {
	c := newClock()
	s := open(t, c.now)
	record := func(key string) bool {
		var fresh bool
		withChannelTx(t, s, func(tx channels.Tx) error {
			var err error
			fresh, err = tx.InteractionRecord(ctx, key, tx.Now().Add(10*time.Minute))
			return err
		})
		return fresh
	}
	if !record("slack:v0=abc") || record("slack:v0=abc") || !record("discord:abc") {
		t.Fatal("first use must be fresh, the second a replay, other keys independent")
	}
	c.add(11 * time.Minute)
	if !record("slack:v0=abc") {
		t.Fatal("an expired record must be forgotten")
	}
}
