package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// SealAudit adds up to limit unsealed events to the hash chain, oldest
// first, and returns how many it sealed. One sealer at a time: the chain
// head is locked for the transaction.
func (s *Service) SealAudit(ctx context.Context, limit int) (int, error) {
	n := 0
	err := s.store.WithTx(ctx, func(tx Tx) error {
		n = 0
		seq, prev, err := tx.AuditChainHead(ctx)
		if err != nil {
			return err
		}
		evs, err := tx.AuditListUnsealed(ctx, limit)
		if err != nil || len(evs) == 0 {
			return err
		}
		for _, e := range evs {
			seq++
			e.Seq, e.PrevHash = seq, prev
			e.Hash = ChainHash(prev, e)
			if err := tx.AuditSeal(ctx, e); err != nil {
				return err
			}
			prev = e.Hash
		}
		n = len(evs)
		if err := tx.AuditChainAdvance(ctx, seq, prev); err != nil {
			return err
		}
		for _, h := range s.sealHooks {
			if err := h.OnSealed(ctx, tx, evs); err != nil {
				return fmt.Errorf("seal hook: %w", err)
			}
		}
		return nil
	})
	return n, err
}

// SealBatch is how many events one sealing transaction takes at most.
const SealBatch = 500

// RunSealer seals new audit events until ctx ends: shortly after each
// change of this process (debounced by settle, so bursts share one
// transaction) and every interval in any case (changes made by other
// processes, and a catch-up after a restart). Several processes may run
// it: the chain head lock makes them take turns.
func (s *Service) RunSealer(ctx context.Context, interval, settle time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// At start and on ticks a read decides whether to seal: locking the
	// chain head for nothing was a write transaction every interval on an
	// idle server (on PostgreSQL, a row lock written to the WAL). After a
	// change of this process there is work, so no need to ask.
	ask := true
	for {
		if !ask || s.unsealedWork(ctx) {
			if !s.sealAll(ctx) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			ask = true
		case <-s.sealNudge:
			ask = false
			select {
			case <-ctx.Done():
				return
			case <-time.After(settle):
			}
		}
	}
}

// unsealedWork reports whether events wait to be sealed. A failed read
// says yes, so that the sealing transaction reports the problem.
func (s *Service) unsealedWork(ctx context.Context) bool {
	n, err := s.store.AuditCountUnsealed(ctx)
	return err != nil || n > 0
}

// sealAll seals until nothing is left or sealing fails; it returns false
// when ctx has ended.
func (s *Service) sealAll(ctx context.Context) bool {
	for {
		n, err := s.SealAudit(ctx, SealBatch)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			s.log.Error("sealing audit events failed; retrying", "err", err)
			return true
		}
		if n < SealBatch {
			return true
		}
	}
}

// ChainReport is the result of verifying the audit chain.
type ChainReport struct {
	OK       bool
	Checked  int64 // events verified
	HeadSeq  int64 // the recorded head
	HeadHash string
	Unsealed int64 // events not yet sealed (recent ones)
	Problem  *ChainProblem
}

// VerifyAudit walks the whole chain and reports the first break.
func (s *Service) VerifyAudit(ctx context.Context) (*ChainReport, error) {
	headSeq, headHash, err := s.store.AuditChainHeadRead(ctx)
	if err != nil {
		return nil, err
	}
	v := NewChainVerifier()
	var after int64
	for {
		evs, err := s.store.AuditListSealed(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			v.Add(e)
			after = e.Seq
		}
		if len(evs) < 1000 || v.Problem != nil {
			break
		}
	}
	v.Finish(headSeq)
	if v.Problem == nil {
		if _, h := v.Head(); h != headHash {
			v.Problem = &ChainProblem{Seq: headSeq, Reason: "the last event's hash differs from the recorded chain head"}
		}
	}
	unsealed, err := s.store.AuditCountUnsealed(ctx)
	if err != nil {
		return nil, err
	}
	return &ChainReport{OK: v.Problem == nil, Checked: v.Checked, HeadSeq: headSeq, HeadHash: headHash, Unsealed: unsealed, Problem: v.Problem}, nil
}

// ExportLine is one line of an audit export (JSON Lines): every field the
// hash covers, at full precision, so the file verifies offline.
type ExportLine struct {
	ID        int64           `json:"id"`
	RequestID string          `json:"requestId"`
	EventType string          `json:"eventType"`
	Actor     string          `json:"actor"`
	ActorID   string          `json:"actorId"`
	ActorType ActorType       `json:"actorType"`
	Details   json.RawMessage `json:"details"`
	CreatedAt string          `json:"createdAt"`
	Seq       int64           `json:"seq"`
	PrevHash  string          `json:"prevHash"`
	Hash      string          `json:"hash"`
}

// ToExportLine converts a sealed event.
func ToExportLine(e *AuditEvent) ExportLine {
	return ExportLine{ID: e.ID, RequestID: e.RequestID, EventType: e.EventType, Actor: e.Actor, ActorID: e.ActorID,
		ActorType: e.ActorType, Details: e.Details, CreatedAt: e.CreatedAt.UTC().Format(time.RFC3339Nano),
		Seq: e.Seq, PrevHash: e.PrevHash, Hash: e.Hash}
}

// Event converts the line back to an event.
func (l ExportLine) Event() (*AuditEvent, error) {
	t, err := time.Parse(time.RFC3339Nano, l.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("event %d: createdAt: %w", l.ID, err)
	}
	return &AuditEvent{ID: l.ID, RequestID: l.RequestID, EventType: l.EventType, Actor: l.Actor, ActorID: l.ActorID,
		ActorType: l.ActorType, Details: l.Details, CreatedAt: t, Seq: l.Seq, PrevHash: l.PrevHash, Hash: l.Hash}, nil
}

// ExportAudit writes every sealed event as JSON Lines, in seq order.
func (s *Service) ExportAudit(ctx context.Context, w io.Writer) (int64, error) {
	enc := json.NewEncoder(w)
	var after, n int64
	for {
		evs, err := s.store.AuditListSealed(ctx, after, 1000)
		if err != nil {
			return n, err
		}
		for _, e := range evs {
			if err := enc.Encode(ToExportLine(e)); err != nil {
				return n, err
			}
			after = e.Seq
			n++
		}
		if len(evs) < 1000 {
			return n, nil
		}
	}
}
