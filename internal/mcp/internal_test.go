package mcp

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestEvery checks the heartbeat clock with a fake one: beats every
// interval, none after stop.
func TestEvery(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var beats []time.Duration
		stop := every(t.Context(), 15*time.Second, func(_ context.Context, elapsed time.Duration) {
			beats = append(beats, elapsed)
		})
		time.Sleep(46 * time.Second)
		stop()
		time.Sleep(time.Minute)
		want := []time.Duration{15 * time.Second, 30 * time.Second, 45 * time.Second}
		if !slices.Equal(beats, want) {
			t.Errorf("beats = %v, want %v", beats, want)
		}
	})
}

func TestClassedErrors(t *testing.T) {
	t.Parallel()
	cause := errors.New("dial tcp: refused")
	err := &classedError{class: ErrUnavailable, msg: "cannot reach", cause: cause}
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) || !errors.Is(err, cause) || err.Error() != "cannot reach" {
		t.Errorf("classedError misbehaves: %v", err)
	}
}
