package dashboard

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/agentgate/agentgate/internal/approval"
)

// queuePageSize is how many pending requests the queue renders at once:
// the service's largest page. A person triages from the top of the list,
// most urgent and oldest first; the rest is a link away, and rendering
// stays fast however long the queue grows (BenchmarkQueuePage).
const queuePageSize = approval.MaxPageSize

// queuePage is the Data of the queue template.
type queuePage struct {
	Cards []*requestView
	Pager pager
	// Live is true on the first page, where new requests are inserted as
	// they arrive; later pages only update their counts.
	Live bool
	// Skeleton renders the card template the live script fills in.
	Skeleton *requestView
}

// pager is the pagination of a list page: links keep the filters.
type pager struct {
	Total    int64
	From, To int // 1-based, inclusive; 0 when empty
	Prev     string
	Next     string
}

func newPager(path string, q url.Values, total int64, offset, limit, shown int) pager {
	p := pager{Total: total}
	if shown > 0 {
		p.From, p.To = offset+1, offset+shown
	}
	link := func(off int) string {
		q := cloneValues(q)
		q.Del("toast")
		if off > 0 {
			q.Set("offset", strconv.Itoa(off))
		} else {
			q.Del("offset")
		}
		if len(q) == 0 {
			return path
		}
		return path + "?" + q.Encode()
	}
	if offset > 0 {
		p.Prev = link(max(0, offset-limit))
	}
	if int64(offset+shown) < total {
		p.Next = link(offset + limit)
	}
	return p
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// offsetParam reads ?offset=, a non-negative multiple of nothing in
// particular; bad values are a 400.
func offsetParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("offset")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > approval.MaxOffset {
		return 0, approval.Errorf(approval.CodeInvalid, "offset must be a whole number between 0 and %d", approval.MaxOffset)
	}
	return n, nil
}

// queue serves GET /: the pending requests, most urgent and oldest first.
func (d *Dashboard) queue(w http.ResponseWriter, r *http.Request, v *view) error {
	offset, err := offsetParam(r)
	if err != nil {
		return err
	}
	reqs, total, err := d.approvals.List(r.Context(), approval.RequestFilter{
		Status: approval.StatusPending, Sort: approval.SortUrgency, Limit: queuePageSize, Offset: offset,
	})
	if err != nil {
		return err
	}
	now := d.now()
	pg := queuePage{Live: offset == 0, Skeleton: &requestView{Urgency: "normal"}}
	for _, req := range reqs {
		pg.Cards = append(pg.Cards, newRequestView(req, v.p, now))
	}
	pg.Pager = newPager("/", r.URL.Query(), total, offset, queuePageSize, len(reqs))
	d.render(w, r, v, http.StatusOK, "queue", &Page{Title: "Queue", Nav: "queue", Pending: total, pendingKnown: true, Data: pg})
	return nil
}
