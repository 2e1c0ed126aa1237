// Package channeltest has fakes of the outside services the channels talk
// to: the Slack Web API, the Discord REST API and an SMTP server. Each
// records every call it gets, so tests (and local demos) can assert what
// AgentGate sent.
package channeltest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Call is one request a fake received.
type Call struct {
	Method string // the API method ("chat.postMessage") or "METHOD /path"
	Path   string // the URL path
	Header http.Header
	Form   url.Values // form-encoded bodies
	Body   []byte
	At     time.Time
}

// JSON decodes the call's JSON body into v.
func (c Call) JSON(v any) error { return json.Unmarshal(c.Body, v) }

// recorder keeps calls and wakes waiters.
type recorder struct {
	mu     sync.Mutex
	calls  []Call
	notify chan struct{}
	// OnCall, when set before the first call, sees every call (demos
	// print them).
	OnCall func(Call)
}

func newRecorder() recorder { return recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(c Call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.OnCall != nil {
		r.OnCall(c)
	}
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Calls returns the calls of one method, or all with "".
func (r *recorder) Calls(method string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Wait waits until a call of method satisfies ok (nil: any), and returns
// it; it gives up after timeout.
func (r *recorder) Wait(method string, ok func(Call) bool, timeout time.Duration) (Call, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for _, c := range r.Calls(method) {
			if ok == nil || ok(c) {
				return c, nil
			}
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			return Call{}, fmt.Errorf("no matching %s call within %v (%d calls of it)", method, timeout, len(r.Calls(method)))
		}
	}
}

// Slack is a fake Slack Web API. Point slack.OptionAPIURL (SLACK_API_URL)
// at APIURL(). Interaction responses posted to ResponseURL() are recorded
// as method "response_url".
type Slack struct {
	*httptest.Server
	recorder
	mu   sync.Mutex
	fail func(method string) string
	seq  int
}

// SetFail makes the fake answer a method with {"ok":false,"error":code}
// when fn returns a code (nil: never).
func (s *Slack) SetFail(fn func(method string) string) {
	s.mu.Lock()
	s.fail = fn
	s.mu.Unlock()
}

// NewSlack starts a fake Slack. Close it when done.
func NewSlack() *Slack {
	s := &Slack{recorder: newRecorder()}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// APIURL is the Web API base, with the trailing slash slack-go needs.
func (s *Slack) APIURL() string { return s.URL + "/api/" }

// ResponseURL is a response_url to put in interaction payloads.
func (s *Slack) ResponseURL() string { return s.URL + "/response/1" }

// ChannelID is the id the fake gives a channel name ("#ops" → "COPS").
func ChannelID(name string) string {
	if n, ok := strings.CutPrefix(name, "#"); ok {
		return "C" + strings.ToUpper(n)
	}
	return name
}

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := Call{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()}
	if strings.HasPrefix(r.URL.Path, "/response/") {
		c.Method = "response_url"
		s.add(c)
		w.WriteHeader(http.StatusOK)
		return
	}
	c.Method = strings.TrimPrefix(r.URL.Path, "/api/")
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		c.Form, _ = url.ParseQuery(string(body))
	}
	s.add(c)
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if code := fail(c.Method); code != "" {
			fmt.Fprintf(w, `{"ok":false,"error":%q}`, code)
			return
		}
	}
	switch c.Method {
	case "chat.postMessage":
		s.mu.Lock()
		s.seq++
		ts := fmt.Sprintf("1700000000.%06d", s.seq)
		s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ChannelID(c.Form.Get("channel")), "ts": ts})
	case "chat.update":
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": c.Form.Get("channel"), "ts": c.Form.Get("ts")})
	case "views.open":
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "view": map[string]any{"id": "V1"}})
	default:
		fmt.Fprint(w, `{"ok":true}`)
	}
}

// Discord is a fake Discord REST API. Point DISCORD_API_URL at URL.
// Calls are recorded as "POST /channels/{id}/messages" and "PATCH
// /channels/{id}/messages/{id}" (the method of the path, not the ids).
type Discord struct {
	*httptest.Server
	recorder
	mu   sync.Mutex
	fail func(c Call) int
	seq  int
}

// SetFail makes the fake answer a call with the status fn returns (0: a
// normal answer; nil: never fail).
func (d *Discord) SetFail(fn func(c Call) int) {
	d.mu.Lock()
	d.fail = fn
	d.mu.Unlock()
}

// Discord call methods.
const (
	DiscordCreate = "create_message"
	DiscordEdit   = "edit_message"
)

// NewDiscord starts a fake Discord API. Close it when done.
func NewDiscord() *Discord {
	d := &Discord{recorder: newRecorder()}
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	return d
}

func (d *Discord) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := Call{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages":
		c.Method = DiscordCreate
	case r.Method == http.MethodPatch && len(parts) == 4 && parts[0] == "channels" && parts[2] == "messages":
		c.Method = DiscordEdit
	default:
		c.Method = r.Method + " " + r.URL.Path
	}
	d.add(c)
	w.Header().Set("Content-Type", "application/json")
	d.mu.Lock()
	fail := d.fail
	d.mu.Unlock()
	if fail != nil {
		if status := fail(c); status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"message":"fake failure","code":%d}`, status)
			return
		}
	}
	switch c.Method {
	case DiscordCreate:
		d.mu.Lock()
		d.seq++
		id := strconv.Itoa(900000 + d.seq)
		d.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "channel_id": parts[1]})
	case DiscordEdit:
		_ = json.NewEncoder(w).Encode(map[string]any{"id": parts[3], "channel_id": parts[1]})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"404: Not Found","code":0}`)
	}
}

// Mail is one message the SMTP fake received.
type Mail struct {
	From string
	To   []string
	Data []byte
}

// Header parses the message's header.
func (m Mail) Header() (mail.Header, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, err
	}
	return msg.Header, nil
}

// Part returns the decoded body part of a content type ("text/plain",
// "text/html"), looking into multipart bodies.
func (m Mail) Part(contentType string) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return "", err
	}
	return findPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, contentType)
}

func findPart(ctype, encoding string, body io.Reader, want string) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				return "", fmt.Errorf("no %s part", want)
			}
			if s, err := findPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, want); err == nil {
				return s, nil
			}
		}
	}
	if mt != want {
		return "", fmt.Errorf("no %s part", want)
	}
	var r io.Reader = body
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		b, err := io.ReadAll(body)
		if err != nil {
			return "", err
		}
		dec, err := decodeBase64(b)
		return string(dec), err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// SMTP is an in-process SMTP server that keeps what it receives.
type SMTP struct {
	Addr string
	Host string
	Port int
	recorder
	mu     sync.Mutex
	mails  []Mail
	server *smtp.Server
	// Reject, when set, refuses a recipient with a permanent error when it
	// returns true.
	Reject func(to string) bool
}

// NewSMTP starts the server on a loopback port. Close it when done.
func NewSMTP() (*SMTP, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SMTP{Addr: ln.Addr().String(), recorder: newRecorder()}
	s.Host, s.Port = "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
	s.server = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.server.Domain = "localhost"
	s.server.AllowInsecureAuth = true
	s.server.ReadTimeout, s.server.WriteTimeout = 10*time.Second, 10*time.Second
	go func() { _ = s.server.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *SMTP) Close() error { return s.server.Close() }

// Mails returns what was received so far.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitMail waits for the first mail to a recipient.
func (s *SMTP) WaitMail(to string, timeout time.Duration) (Mail, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		for _, m := range s.Mails() {
			for _, t := range m.To {
				if t == to {
					return m, nil
				}
			}
		}
		select {
		case <-s.notify:
		case <-deadline.C:
			return Mail{}, fmt.Errorf("no mail to %s within %v", to, timeout)
		}
	}
}

type session struct {
	s    *SMTP
	from string
	to   []string
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }
func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from = from
	return nil
}
func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if se.s.Reject != nil && se.s.Reject(to) {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	se.to = append(se.to, to)
	return nil
}
func (se *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	se.s.mails = append(se.s.mails, Mail{From: se.from, To: se.to, Data: b})
	se.s.mu.Unlock()
	se.s.add(Call{Method: "mail", Body: b, At: time.Now()})
	return nil
}

var errNotBase64 = errors.New("not base64")

func decodeBase64(b []byte) ([]byte, error) {
	clean := bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == ' ' {
			return -1
		}
		return r
	}, b)
	out := make([]byte, len(clean))
	n, err := base64.StdEncoding.Decode(out, clean)
	if err != nil {
		return nil, errNotBase64
	}
	return out[:n], nil
}
