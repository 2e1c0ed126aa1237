package webhook

import "context"

// DeliverBatch runs a batch job's work once as River's attempt attempt
// (1 for the first run), for tests that play River's part (a run, a rerun
// after a crash).
func (s *Service) DeliverBatch(ctx context.Context, a BatchArgs, attempt int) error {
	return s.deliverBatch(ctx, a, attempt)
}
