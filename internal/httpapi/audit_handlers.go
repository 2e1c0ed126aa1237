package httpapi

import (
	"net/http"

	"github.com/agentgate/agentgate/internal/wire"
)

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.approvals.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wire.ToChainReport(rep))
	return nil
}

// exportAudit streams the sealed audit trail as JSON Lines, verifiable
// offline with `agentgate audit verify -f FILE`.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="agentgate-audit.jsonl"`)
	w.Header().Set("Cache-Control", "no-store")
	if _, err := s.approvals.ExportAudit(r.Context(), w); err != nil {
		s.log.Warn("audit export ended early", "request_id", RequestID(r.Context()), "err", err)
	}
	return nil
}
