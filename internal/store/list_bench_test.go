package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/store/storetest"
)

// BenchmarkRequestListPending lists the first page of 10,000 pending
// requests, as the queue and GET /api/requests?status=pending do.
func BenchmarkRequestListPending(b *testing.B) {
	s := openMigrated(b, filepath.Join(b.TempDir(), "list.db"), time.Now)
	ctx := context.Background()
	for range 10000 {
		storetest.Request(b, s, nil)
	}
	for _, sort := range []string{approval.SortNewest, approval.SortUrgency} {
		b.Run(sort, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := s.RequestList(ctx, approval.RequestFilter{Status: approval.StatusPending, Sort: sort, Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
