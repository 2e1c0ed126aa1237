package webhook

import (
	"regexp"
	"testing"
	"time"
)

// TestDeliveryID: derived ids are stable, differ for each webhook, audit
// event and event name, and are "dlv_" plus a version 8 UUID.
func TestDeliveryID(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^dlv_[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	base := DeliveryID("whk_1", 42, EventRequestDecided)
	if base != DeliveryID("whk_1", 42, EventRequestDecided) {
		t.Fatal("DeliveryID is not deterministic")
	}
	seen := map[string]string{base: "base"}
	for name, id := range map[string]string{
		"other webhook": DeliveryID("whk_2", 42, EventRequestDecided),
		"other event":   DeliveryID("whk_1", 43, EventRequestDecided),
		"other name":    DeliveryID("whk_1", 42, EventRequestApproved),
		// The separators keep the parts apart.
		"shifted parts": DeliveryID("whk_14", 2, EventRequestDecided),
	} {
		if prev, ok := seen[id]; ok {
			t.Errorf("%s gives the same id as %s: %s", name, prev, id)
		}
		seen[id] = name
	}
	for id := range seen {
		if !shape.MatchString(id) {
			t.Errorf("id %q is not dlv_ and a version 8 UUID", id)
		}
	}
}

// TestRetryParams: the retry job after the batch's attempt gets the
// attempts left and counts the batch's; a retry due within River's
// scheduler interval is inserted available (the worker snoozes until it
// is due), a later one scheduled.
func TestRetryParams(t *testing.T) {
	t.Parallel()
	s := &Service{cfg: Config{MaxAttempts: 5}}
	tests := []struct {
		name      string
		in        time.Duration
		prior     int
		ok        bool
		scheduled bool
	}{
		{"soon", 2 * time.Second, 1, true, false},
		{"later", time.Minute, 1, true, true},
		{"last attempt left", time.Second, 4, true, false},
		{"none left", time.Second, 5, false, false},
	}
	for _, tc := range tests {
		d := &Delivery{ID: "dlv_x", NextAttemptAt: time.Now().Add(tc.in)}
		p, ok := s.retryParams(d, tc.prior)
		if ok != tc.ok {
			t.Fatalf("%s: ok = %v", tc.name, ok)
		}
		if !ok {
			continue
		}
		args := p.Args.(DeliveryArgs)
		if args.DeliveryID != d.ID || args.PriorAttempts != tc.prior || p.InsertOpts.MaxAttempts != 5-tc.prior || p.InsertOpts.Queue != QueueName {
			t.Errorf("%s: %+v %+v", tc.name, args, p.InsertOpts)
		}
		if got := !p.InsertOpts.ScheduledAt.IsZero(); got != tc.scheduled {
			t.Errorf("%s: scheduled = %v, want %v", tc.name, got, tc.scheduled)
		} else if got && !p.InsertOpts.ScheduledAt.Equal(d.NextAttemptAt) {
			t.Errorf("%s: scheduled at %v, want %v", tc.name, p.InsertOpts.ScheduledAt, d.NextAttemptAt)
		}
	}
}
