package events

import (
	"context"

	"github.com/agentgate/agentgate/internal/approval"
)

// Local is the bus of a single process (the SQLite mode): events go
// straight to the Hub after commit.
type Local struct{ hub *Hub }

// NewLocal returns a Local bus on hub.
func NewLocal(hub *Hub) *Local { return &Local{hub: hub} }

// Publish implements approval.Publisher.
func (l *Local) Publish(_ context.Context, evs ...approval.Event) { l.hub.Deliver(FromEvents(evs)...) }
