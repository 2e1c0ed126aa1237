package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

// Parked long-polls.
//
// A long-poll served the ordinary way holds, for as long as it waits, a
// net/http connection goroutine, its background-read goroutine, a 4 KiB
// read buffer, 6 KiB of write buffers and the request's contexts: about
// 30 KB per waiter, 300 MB for 10,000 agents waiting. A parked long-poll
// keeps only the connection, its response headers and a hub
// registration: the connection is hijacked from net/http once the
// request is known to be pending, and a decision, the timeout or shutdown
// answers it from whichever goroutine notices first.
//
// The answer carries "Connection: close": the parked connection is no
// longer net/http's to reuse. A client that goes away while parked is
// noticed when the answer is written, at the latest after its timeout;
// until then it holds its per-key slot. HTTP/2 connections cannot be
// hijacked and HEAD requests gain nothing; both wait the ordinary way.

// parkedWaits is the set of parked long-polls, answered at shutdown.
type parkedWaits struct {
	mu     sync.Mutex
	set    map[*parkedWait]struct{}
	reads  map[string]*sharedRead // by request id, while in flight
	closed bool
	wg     sync.WaitGroup
}

// sharedRead is one read of a request that every waiter woken before it
// started can use: a decision wakes all the request's waiters at once,
// and they need one read, not one each.
type sharedRead struct {
	start time.Time
	done  chan struct{}
	req   *approval.Request
	err   error
}

// parkedWait is one parked long-poll. Everything it holds is listed
// here: no *http.Request, no buffers, no goroutine.
type parkedWait struct {
	s       *Server
	id      string
	header  http.Header
	start   time.Time
	release func() // frees the per-key long-poll slot
	method  string
	route   string
	reqID   string
	keyID   string
	remote  string

	mu        sync.Mutex
	conn      net.Conn // nil until hijacked
	woken     bool     // a wake-up came before the connection was parked
	forced    bool     // ... and it was shutdown's, which answers whatever the state
	done      bool
	stopWatch func()
	timer     *time.Timer
}

// tryPark parks the long-poll for request id when it is still pending and
// the connection can be hijacked. parked reports whether it did: the
// parked wait then answers the client and calls release. Otherwise req is
// the request as just read (nil when it could not be read) and the caller
// serves the long-poll itself.
func (s *Server) tryPark(w http.ResponseWriter, r *http.Request, id string, timeout time.Duration, release func()) (parked bool, req *approval.Request, err error) {
	if s.hub == nil || s.cfg.NoParkedWaits || r.Method != http.MethodGet || r.ProtoMajor != 1 || s.draining.Load() || timeout <= 0 {
		return false, nil, nil
	}
	ri := infoFrom(r.Context())
	p := &parkedWait{
		s: s, id: id, start: time.Now(), release: release,
		method: r.Method, route: ri.route, reqID: ri.id, keyID: ri.keyID, remote: s.ClientAddr(r).String(),
	}
	// Watch before reading, so that a change between the read and the
	// parking is not lost.
	p.stopWatch = s.hub.WatchRequestFunc(id, p.wake)
	req, err = s.parked.read(s.approvals, id, time.Now())
	if err != nil || req.Status != approval.StatusPending {
		p.stopWatch()
		return false, req, err
	}
	w.Header().Set("X-AgentGate-Wait-Timeout", fmt.Sprintf("%.0f", timeout.Seconds()))
	p.header = w.Header().Clone()
	if !s.parked.add(p) {
		p.stopWatch()
		return false, req, nil
	}
	// Bytes a client pipelined after this request would need the buffered
	// reader, which is dropped: the connection closes after the answer and
	// such a client retries them, as HTTP/1.1 requires of it.
	conn, _, herr := http.NewResponseController(w).Hijack()
	if herr != nil {
		s.parked.remove(p)
		p.stopWatch()
		w.Header().Del("X-AgentGate-Wait-Timeout")
		return false, req, nil
	}
	ri.parked = true
	p.mu.Lock()
	p.conn = conn
	p.timer = time.AfterFunc(timeout, func() { p.finish(true) })
	woken, forced := p.woken, p.forced
	p.mu.Unlock()
	if woken {
		go p.finish(forced)
	}
	return true, nil, nil
}

// wake is the hub's callback: it must not block.
func (p *parkedWait) wake() {
	woken := time.Now()
	go p.finishAfter(false, woken)
}

// finish reads the request and answers the client when it is no longer
// pending, or whatever its state when force is set (timeout, shutdown).
func (p *parkedWait) finish(force bool) { p.finishAfter(force, time.Now()) }

// finishAfter is finish with a read that started at or after since.
func (p *parkedWait) finishAfter(force bool, since time.Time) {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	if p.conn == nil {
		// Not parked yet: tryPark runs this once it is.
		p.woken = true
		p.forced = p.forced || force
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()

	req, err := p.s.parked.read(p.s.approvals, p.id, since)
	if err == nil && req.Status == approval.StatusPending && !force {
		return // another change (a vote, an edit): keep waiting
	}

	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return
	}
	p.done = true
	conn := p.conn
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.stopWatch()

	resp := &wireResponse{header: p.header}
	if err != nil {
		status := StatusOf(err)
		if status >= 500 {
			p.s.log.Error("long-poll failed", "request_id", p.reqID, "err", err)
		}
		writeJSON(resp, status, errorBody{Error: approval.ErrorMessage(err)})
	} else {
		writeRequest(resp, http.StatusOK, req)
	}
	// The answer ends the long-poll for the client: its slot and its place
	// in the set go first, so a client that asks again at once finds
	// both free. Shutdown still waits for the write.
	p.release()
	counted := p.s.parked.forget(p)
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	n, _ := resp.WriteTo(conn)
	_ = conn.Close()
	if counted {
		p.s.parked.wg.Done()
	}
	p.s.logAccess(p.reqID, p.method, p.route, p.keyID, p.remote, resp.status, time.Since(p.start), int(n), true)
}

// read returns request id as read by a read that started at or after
// since, joining one in flight when there is such a read.
func (ps *parkedWaits) read(svc *approval.Service, id string, since time.Time) (*approval.Request, error) {
	ps.mu.Lock()
	if sr := ps.reads[id]; sr != nil && !sr.start.Before(since) {
		ps.mu.Unlock()
		<-sr.done
		return sr.req, sr.err
	}
	sr := &sharedRead{start: time.Now(), done: make(chan struct{})}
	if ps.reads == nil {
		ps.reads = map[string]*sharedRead{}
	}
	ps.reads[id] = sr
	ps.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	sr.req, sr.err = svc.Get(ctx, id)
	cancel()
	close(sr.done)
	ps.mu.Lock()
	if ps.reads[id] == sr {
		delete(ps.reads, id)
	}
	ps.mu.Unlock()
	return sr.req, sr.err
}

func (ps *parkedWaits) add(p *parkedWait) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return false
	}
	if ps.set == nil {
		ps.set = map[*parkedWait]struct{}{}
	}
	ps.set[p] = struct{}{}
	ps.wg.Add(1)
	return true
}

func (ps *parkedWaits) remove(p *parkedWait) {
	if ps.forget(p) {
		ps.wg.Done()
	}
}

// forget takes p out of the set; it reports whether p was in it (and so
// still counts in wg).
func (ps *parkedWaits) forget(p *parkedWait) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	_, ok := ps.set[p]
	delete(ps.set, p)
	return ok
}

// Parked returns the number of long-polls parked right now.
func (s *Server) Parked() int {
	s.parked.mu.Lock()
	defer s.parked.mu.Unlock()
	return len(s.parked.set)
}

// CloseParked answers every parked long-poll with the request's current
// state, as an ordinary long-poll is answered at shutdown, and waits for
// the answers until ctx ends; then it closes what is left. No long-poll
// parks after it is called. Call it after http.Server.Shutdown and before
// the store closes.
func (s *Server) CloseParked(ctx context.Context) {
	ps := &s.parked
	ps.mu.Lock()
	ps.closed = true
	waits := make([]*parkedWait, 0, len(ps.set))
	for p := range ps.set {
		waits = append(waits, p)
	}
	ps.mu.Unlock()
	for _, p := range waits {
		go p.finish(true)
	}
	done := make(chan struct{})
	go func() { ps.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		for _, p := range waits {
			p.mu.Lock()
			if c := p.conn; c != nil && !p.done {
				_ = c.Close()
			}
			p.mu.Unlock()
		}
	}
}

// wireResponse collects a response to be written to a hijacked
// connection.
type wireResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *wireResponse) Header() http.Header { return b.header }

func (b *wireResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *wireResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// WriteTo writes the response as HTTP/1.1 that closes the connection.
func (b *wireResponse) WriteTo(w io.Writer) (int64, error) {
	b.WriteHeader(http.StatusOK)
	h := b.header
	h.Set("Content-Length", strconv.Itoa(b.body.Len()))
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %03d %s\r\n", b.status, http.StatusText(b.status))
	_ = h.Write(&out)
	out.WriteString("\r\n")
	out.Write(b.body.Bytes())
	return out.WriteTo(w)
}
