package ratelimit_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAllow measures one check on each backend over 1000 keys
// limited to 600 per minute (once warm most checks are denials, as under
// an attack). Run: go test ./internal/ratelimit -run '^$' -bench Allow
func BenchmarkAllow(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			bk := be.new(b)
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := "k" + strconv.FormatInt(n.Add(1)%1000, 10)
					if _, err := bk.limiter.Allow(context.Background(), k, 600, time.Minute); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
