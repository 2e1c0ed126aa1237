package webhook

import "context"

// DeliverBatch runs a batch job's work once, for tests that play River's
// part (a run, a rerun after a crash).
func (s *Service) DeliverBatch(ctx context.Context, a BatchArgs) error { return s.deliverBatch(ctx, a) }
