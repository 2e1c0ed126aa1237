package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/testserver"
)

// sealed waits until the server has sealed every audit event into the
// chain (a background job) and returns the verification report.
func sealed(t *testing.T, c *Client) *ChainReport {
	t.Helper()
	ctx := testCtx(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		rep, err := c.VerifyAudit(ctx)
		if err != nil {
			t.Fatalf("VerifyAudit: %v", err)
		}
		if rep.Unsealed == 0 && rep.Checked > 0 {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit events still unsealed after 15s: %+v", rep)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuditVerifyAndExport(t *testing.T) {
	t.Parallel()
	b := setup(t, &testserver.Options{Configure: func(c *config.Config) { c.AuditSealInterval = 20 * time.Millisecond }})
	ctx := testCtx(t)
	r := mustRequest(t, b.agent, RequestInput{Action: "audit_test"})
	if _, err := b.approver.Decide(ctx, r.ID, DecideInput{Decision: StatusApproved, Reason: "fine"}); err != nil {
		t.Fatal(err)
	}
	rep := sealed(t, b.reader)
	if !rep.OK || rep.Problem != nil || rep.HeadSeq != rep.Checked || len(rep.HeadHash) != 64 {
		t.Fatalf("VerifyAudit = %+v, want a whole chain", rep)
	}

	var buf bytes.Buffer
	n, err := b.admin.ExportAudit(ctx, &buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("ExportAudit = %d, %v (buffer %d bytes)", n, err, buf.Len())
	}
	v := approval.NewChainVerifier()
	sc := bufio.NewScanner(&buf)
	lines := 0
	for sc.Scan() {
		var l approval.ExportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		e, err := l.Event()
		if err != nil {
			t.Fatal(err)
		}
		v.Add(e)
		lines++
	}
	if v.Problem != nil || v.Checked != rep.Checked || int64(lines) != rep.Checked {
		t.Errorf("the export (%d lines) does not verify offline: checked %d, problem %v; server checked %d", lines, v.Checked, v.Problem, rep.Checked)
	}
	if _, h := v.Head(); h != rep.HeadHash {
		t.Errorf("offline head %s, server head %s", h, rep.HeadHash)
	}

	if _, err := b.agent.ExportAudit(ctx, &bytes.Buffer{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("ExportAudit without admin = %v, want ErrForbidden", err)
	}
}
