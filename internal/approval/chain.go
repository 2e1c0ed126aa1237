package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// The audit trail is a hash chain: each sealed event carries
// hash = SHA-256(prev_hash "\n" canonical(event)) in seal order (seq 1, 2,
// ...). Changing, deleting or reordering any sealed event breaks every
// later link, and Verify says where. Events are sealed shortly after they
// commit, by one sealer at a time, so writers never wait on the chain.

// GenesisHash is the prev_hash of the first event.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// CanonicalEvent is the exact byte form hashed for e: a JSON object with
// fixed key order; details are included as stored (they are compact JSON
// written once and never re-encoded).
func CanonicalEvent(e *AuditEvent) []byte {
	var b bytes.Buffer
	str := func(s string) {
		q, _ := json.Marshal(s) // a string always encodes
		b.Write(q)
	}
	b.WriteString(`{"id":`)
	b.WriteString(strconv.FormatInt(e.ID, 10))
	b.WriteString(`,"requestId":`)
	str(e.RequestID)
	b.WriteString(`,"eventType":`)
	str(e.EventType)
	b.WriteString(`,"actor":`)
	str(e.Actor)
	b.WriteString(`,"actorId":`)
	str(e.ActorID)
	b.WriteString(`,"actorType":`)
	str(string(e.ActorType))
	b.WriteString(`,"details":`)
	if len(e.Details) == 0 {
		b.WriteString("{}")
	} else {
		b.Write(e.Details)
	}
	b.WriteString(`,"createdAt":`)
	str(e.CreatedAt.UTC().Format(time.RFC3339Nano))
	b.WriteString(`,"seq":`)
	b.WriteString(strconv.FormatInt(e.Seq, 10))
	b.WriteString("}")
	return b.Bytes()
}

// ChainHash returns the hash of e linked to prev.
func ChainHash(prev string, e *AuditEvent) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte("\n"))
	h.Write(CanonicalEvent(e))
	return hex.EncodeToString(h.Sum(nil))
}

// ChainProblem describes where a chain breaks.
type ChainProblem struct {
	Seq     int64  // the first sequence number that fails
	EventID int64  // its event id (0 when the event is missing)
	Reason  string // what is wrong
}

func (p *ChainProblem) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d (event %d): %s", p.Seq, p.EventID, p.Reason)
}

// ChainVerifier checks sealed events fed to it in seq order.
type ChainVerifier struct {
	next    int64  // the seq expected next
	prev    string // the hash the next event must link to
	Checked int64
	Problem *ChainProblem
}

// NewChainVerifier starts a verification at the genesis.
func NewChainVerifier() *ChainVerifier { return &ChainVerifier{next: 1, prev: GenesisHash} }

// Add checks one event; after the first problem it does nothing.
func (v *ChainVerifier) Add(e *AuditEvent) {
	if v.Problem != nil {
		return
	}
	switch {
	case e.Seq > v.next:
		v.Problem = &ChainProblem{Seq: v.next, Reason: fmt.Sprintf("event with seq %d is missing (deleted?); next present is seq %d (event %d)", v.next, e.Seq, e.ID)}
	case e.Seq < v.next:
		v.Problem = &ChainProblem{Seq: e.Seq, EventID: e.ID, Reason: "sequence number repeats or goes backwards (reordered?)"}
	case e.PrevHash != v.prev:
		v.Problem = &ChainProblem{Seq: e.Seq, EventID: e.ID, Reason: "prev_hash does not match the previous event's hash (reordered or an earlier event was replaced)"}
	case ChainHash(v.prev, e) != e.Hash:
		v.Problem = &ChainProblem{Seq: e.Seq, EventID: e.ID, Reason: "content does not match its hash (modified)"}
	default:
		v.prev = e.Hash
		v.next++
		v.Checked++
	}
}

// Head returns the last verified seq and hash.
func (v *ChainVerifier) Head() (int64, string) { return v.next - 1, v.prev }

// Finish checks that the chain reaches the recorded head seq (events
// deleted from the end would otherwise go unnoticed).
func (v *ChainVerifier) Finish(headSeq int64) {
	if v.Problem == nil && v.next-1 < headSeq {
		v.Problem = &ChainProblem{Seq: v.next, Reason: fmt.Sprintf("the chain ends at seq %d but %d events were sealed (deleted from the end?)", v.next-1, headSeq)}
	}
}
