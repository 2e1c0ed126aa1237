package approval

import (
	"context"
	"time"
)

// expireBatch bounds one transaction of an expiry sweep.
const expireBatch = 200

// RunExpirySweeper ends due requests at once and then every interval until
// ctx ends. Every process runs one. A pass that finds nothing due is one
// read of an index and writes nothing: the River periodic job it replaces
// inserted, fetched and completed a job every second, three write
// transactions (~50 KB of WAL a second) on an idle server. Passes racing
// on several replicas are safe: due rows are claimed with SKIP LOCKED on
// PostgreSQL and each end is a compare-and-set, so it happens once.
func (s *Service) RunExpirySweeper(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		s.sweepExpired(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *Service) sweepExpired(ctx context.Context) {
	due, err := s.store.RequestDueExists(ctx)
	if err == nil && due {
		err = s.ExpireAllDue(ctx)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("expiry sweep failed; retrying at the next interval", "err", err)
	}
}

// ExpireAllDue ends every due request, in transactions of a bounded size.
func (s *Service) ExpireAllDue(ctx context.Context) error {
	for {
		n, err := s.ExpireDue(ctx, expireBatch)
		if err != nil || n < expireBatch {
			return err
		}
	}
}
