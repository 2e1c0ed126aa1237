package dashboard

import (
	"net/http"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

// historyPageSize is the number of requests per history page.
const historyPageSize = 50

// historyPage is the Data of the history template.
type historyPage struct {
	Rows  []*requestView
	Pager pager
	// The filters, as entered.
	Status, Action, DecidedBy, From, To string
	Statuses                            []string
	Filtered                            bool
}

// dateRange reads ?from= and ?to= as days (YYYY-MM-DD, UTC); to is
// inclusive.
func dateRange(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, approval.Errorf(approval.CodeInvalid, "from must be a date such as 2026-01-31")
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, approval.Errorf(approval.CodeInvalid, "to must be a date such as 2026-01-31")
		}
		to = to.Add(24*time.Hour - time.Nanosecond)
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return from, to, approval.Errorf(approval.CodeInvalid, "the end date must not be before the start date")
	}
	return from, to, nil
}

// history serves GET /history: every request, newest first, filtered.
func (d *Dashboard) history(w http.ResponseWriter, r *http.Request, v *view) error {
	q := r.URL.Query()
	offset, err := offsetParam(r)
	if err != nil {
		return err
	}
	from, to, err := dateRange(r)
	if err != nil {
		return err
	}
	pg := historyPage{
		Status: q.Get("status"), Action: strings.TrimSpace(q.Get("action")), DecidedBy: strings.TrimSpace(q.Get("decidedBy")),
		From: q.Get("from"), To: q.Get("to"),
		Statuses: []string{"pending", "approved", "denied", "expired"},
	}
	pg.Filtered = pg.Status != "" || pg.Action != "" || pg.DecidedBy != "" || pg.From != "" || pg.To != ""
	reqs, total, err := d.approvals.List(r.Context(), approval.RequestFilter{
		Status: approval.Status(pg.Status), Action: pg.Action, DecidedBy: pg.DecidedBy, From: from, To: to,
		Sort: approval.SortNewest, Limit: historyPageSize, Offset: offset,
	})
	if err != nil {
		return err
	}
	now := d.now()
	for _, req := range reqs {
		pg.Rows = append(pg.Rows, newRequestView(req, nil, now))
	}
	pg.Pager = newPager("/history", q, total, offset, historyPageSize, len(reqs))
	d.render(w, r, v, http.StatusOK, "history", &Page{Title: "History", Nav: "history", Data: pg})
	return nil
}
