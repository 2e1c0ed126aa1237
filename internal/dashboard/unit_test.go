package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
)

func TestParseTreeKeepsOrderAndLimits(t *testing.T) {
	t.Parallel()
	root, err := parseTree([]byte(`{"z":1,"a":{"nested":[true,null,"x"]},"m":"` + strings.Repeat("y", 300) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range root.Children {
		keys = append(keys, c.Key+":"+c.Kind)
	}
	if got := strings.Join(keys, ","); got != "z:number,a:object,m:string" {
		t.Fatalf("children %s", got)
	}
	arr := root.Children[1].Children[0]
	if arr.Kind != "array" || len(arr.Children) != 3 || arr.Children[1].Kind != "null" || arr.Count() != "3 items" {
		t.Fatalf("array %+v", arr)
	}
	if !root.Children[2].Long {
		t.Error("a 300-character string is not folded")
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	root, err = parseTree([]byte(deep))
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for n := root; len(n.Children) > 0; n = n.Children[0] {
		depth++
		if n.Children[0].Kind == "cut" {
			break
		}
	}
	if depth > jsonMaxDepth+1 {
		t.Errorf("depth %d shown, want at most %d", depth, jsonMaxDepth+1)
	}
	big := "[" + strings.Repeat("1,", 5000) + "1]"
	root, err = parseTree([]byte(big))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(root.Children); n > jsonMaxNodes+1 || root.Children[n-1].Kind != "cut" {
		t.Errorf("%d children of a 5001-item array, want a cut at %d", n, jsonMaxNodes)
	}
	if _, err := parseTree([]byte(`{"a":`)); err == nil {
		t.Error("broken JSON parsed")
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		want     string
		wantMore int
	}{
		{`{}`, "", 0},
		{`{"to":"a@b.c","n":3,"ok":true,"x":null}`, "to=a@b.c n=3 ok=true x=null", 0},
		{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}`, "a=1 b=2 c=3 d=4", 2},
		{`{"html":{"s":"<b>"}}`, `html={"s":"<b>"}`, 0},
		{`{"list":[` + strings.Repeat(`"abcdefghij",`, 20) + `"x"]}`, "list=[21 items]", 0},
		{`{"long":"` + strings.Repeat("é", 200) + `"}`, "long=" + strings.Repeat("é", summaryValue) + "…", 0},
		{`[1,2]`, "", 0},
	}
	for _, tt := range tests {
		kvs, more := summarize([]byte(tt.in))
		var parts []string
		for _, kv := range kvs {
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		if got := strings.Join(parts, " "); got != tt.want || more != tt.wantMore {
			t.Errorf("summarize(%.40s) = %q +%d, want %q +%d", tt.in, got, more, tt.want, tt.wantMore)
		}
	}
}

func TestMemoryLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter(3, time.Minute, func() time.Time { return now })
	ctx := context.Background()
	allow := func(key string) (bool, time.Duration) {
		ok, retry, err := l.Allow(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok, retry
	}
	for i := range 3 {
		if ok, _ := allow("a"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		now = now.Add(10 * time.Second)
	}
	ok, retry := allow("a")
	if ok || retry != 30*time.Second {
		t.Fatalf("4th attempt: %v retry %s, want refused for 30s", ok, retry)
	}
	if ok, _ := allow("b"); !ok {
		t.Fatal("another address is limited too")
	}
	now = now.Add(30 * time.Second) // the first attempt leaves the window
	if ok, _ := allow("a"); !ok {
		t.Fatal("attempt after the window refused")
	}
	now = now.Add(2 * time.Minute)
	if ok, _ := allow("c"); !ok {
		t.Fatal("c refused")
	}
	l.mu.Lock()
	n := len(l.attempts)
	l.mu.Unlock()
	if n != 1 {
		t.Errorf("%d keys kept after they went idle, want 1", n)
	}
}

// TestPendingCounterShares: streams that ask together share one read, and
// a count is never older than the moment it was asked for.
func TestPendingCounterShares(t *testing.T) {
	t.Parallel()
	var reads atomic.Int64
	release := make(chan struct{})
	c := newPendingCounter(func(context.Context) (int64, error) {
		n := reads.Add(1)
		<-release
		return n * 10, nil
	})
	ctx := context.Background()
	asked := time.Now()
	var wg sync.WaitGroup
	results := make([]int64, 8)
	for i := range results {
		wg.Go(func() {
			v, err := c.get(ctx, asked)
			if err != nil {
				t.Error(err)
			}
			results[i] = v
		})
	}
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // let the others queue behind the read
	close(release)
	wg.Wait()
	for _, v := range results {
		if v != 10 {
			t.Fatalf("results %v, want all 10 from one read", results)
		}
	}
	if reads.Load() != 1 {
		t.Fatalf("%d reads for 8 streams asking at once", reads.Load())
	}
	// A later event needs a later read.
	if v, _ := c.get(ctx, time.Now()); v != 20 || reads.Load() != 2 {
		t.Fatalf("later: %d after %d reads", v, reads.Load())
	}
	failing := newPendingCounter(func(context.Context) (int64, error) { return 0, errors.New("down") })
	if _, err := failing.get(ctx, time.Now()); err == nil {
		t.Fatal("a failed read gave a count")
	}
}

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/": "/", "/history?x=1": "/history?x=1", "": "/", "//evil": "/", "/\\evil": "/", "https://evil": "/",
		"evil": "/", "/a\nb": "/", "javascript:alert(1)": "/",
	} {
		if got := localPath(in, "/"); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ got, want string }{
		{comma(0), "0"}, {comma(999), "999"}, {comma(10000), "10,000"}, {comma(int64(-1234567)), "-1,234,567"},
		{ago(now, now.Add(-30*time.Second)), "just now"}, {ago(now, now.Add(-5*time.Minute)), "5 min ago"},
		{ago(now, now.Add(-150*time.Minute)), "2 h 30 min ago"}, {ago(now, now.Add(-72*time.Hour)), "3 days ago"},
		{until(now, now.Add(90*time.Second)), "in 1 min"}, {until(now, now.Add(-time.Second)), "expired"},
		{until(now, time.Time{}), "no expiry"}, {titleCase("route_to_human"), "Route to human"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestNotificationTimeline: channel messages show in a request's
// timeline, failures with their error and whether a retry follows.
func TestNotificationTimeline(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(typ, det string) *approval.AuditEvent {
		return &approval.AuditEvent{EventType: typ, Actor: "system", ActorType: approval.ActorSystem, Details: json.RawMessage(det), CreatedAt: at}
	}
	items := timeline(&approval.Request{}, []*approval.AuditEvent{
		ev(approval.EventNotificationSent, `{"channel":"slack","target":"#ops","trigger":"created"}`),
		ev(approval.EventNotificationFailed, `{"channel":"discord","target":"123","operation":"post","error":"discord: HTTP 502","final":false}`),
		ev(approval.EventNotificationFailed, `{"channel":"email","target":"a@b.c","operation":"post","error":"email is not configured","final":true}`),
		ev(approval.EventNotificationFailed, `{"channel":"slack","target":"#ops","operation":"update","error":"slack: message_not_found","final":true}`),
	})
	want := []struct{ title, reason string }{
		{"Sent to Slack #ops", ""},
		{"Could not send to Discord 123 (retrying)", "discord: HTTP 502"},
		{"Could not send to email a@b.c", "email is not configured"},
		{"Could not update the message on Slack #ops", "slack: message_not_found"},
	}
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(items), len(want), items)
	}
	for i, w := range want {
		if items[i].Title != w.title || items[i].Reason != w.reason || items[i].Via != "" {
			t.Errorf("item %d = %+v, want %q / %q", i, items[i], w.title, w.reason)
		}
	}
}

// The templates and static files load on first use, so a broken one
// must fail here rather than on a user's first page.
func TestLoadUI(t *testing.T) {
	u, err := loadUI()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range pageNames {
		if u.tpl.pages[n] == nil {
			t.Errorf("page %s not parsed", n)
		}
	}
	want := map[string]string{"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8", "icon.svg": "image/svg+xml"}
	for name, ctype := range want {
		a := u.assets.byName[name]
		if a == nil || a.ctype != ctype || len(a.hash) != 16 || len(a.body) == 0 {
			t.Errorf("asset %s = %+v, want type %s, a 16-digit hash and a body", name, a, ctype)
		}
	}
}
