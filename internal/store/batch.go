package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// batcher is SQLite's group commit. SQLite has one writer, and most of a
// small transaction's cost is its commit (the WAL write), so concurrent
// callers share one transaction: each caller's function runs inside its
// own SAVEPOINT (its failure rolls back only its own work), and one COMMIT
// makes the whole group durable before any caller returns. A caller sees
// exactly what it would with a transaction of its own: its work commits
// or it gets the error, and nothing is visible to others before commit.
type batcher struct {
	s        *Store
	reqs     chan *batchReq
	maxBatch int
	wg       sync.WaitGroup
}

type batchReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

func newBatcher(s *Store, maxBatch int) *batcher {
	b := &batcher{s: s, reqs: make(chan *batchReq, maxBatch), maxBatch: maxBatch}
	b.wg.Go(b.loop)
	return b
}

// close stops the loop after the queued transactions have run.
func (b *batcher) close() {
	close(b.reqs)
	b.wg.Wait()
}

func (b *batcher) do(ctx context.Context, fn func(*Tx) error) error {
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the outcome is awaited even if ctx ends: the function
	// may already be running and its result must not be misreported.
	return <-r.done
}

func (b *batcher) loop() {
	batch := make([]*batchReq, 0, b.maxBatch)
	for first := range b.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < b.maxBatch {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		b.run(batch)
	}
}

func (b *batcher) run(batch []*batchReq) {
	errs := make([]error, len(batch))
	tx, err := b.s.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("store: begin: %w", err)
		}
		return
	}
	for i, r := range batch {
		errs[i] = b.runOne(tx, r)
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("store: commit: %w", err)
			}
		}
	}
	b.s.writeGen.Add(1)
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// runOne runs one caller's function inside a savepoint.
func (b *batcher) runOne(tx *sql.Tx, r *batchReq) (err error) {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(context.Background(), "SAVEPOINT g"); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: transaction function panicked: %v", p)
		}
		if err != nil {
			_, _ = tx.ExecContext(context.Background(), "ROLLBACK TO g")
		}
		if _, rerr := tx.ExecContext(context.Background(), "RELEASE g"); rerr != nil && err == nil {
			err = fmt.Errorf("store: release savepoint: %w", rerr)
		}
	}()
	return r.fn(&Tx{tx: tx, now: b.s.nowUTC(), s: b.s})
}
