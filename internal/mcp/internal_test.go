package mcp

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
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

// TestNoSDKImport keeps the public Go SDK out of this package (and so out
// of the server): the SDK's tests run the whole server, which serves /mcp
// from here, so an import would be a cycle. remote.Backend holds the
// SDK-based backend instead.
func TestNoSDKImport(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/agentgate/agentgate/client" {
			t.Fatal("internal/mcp imports the public SDK (client/): move that code to internal/mcp/remote")
		}
	}
}
