package channels_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/channels/channeltest"
	"github.com/agentgate/agentgate/internal/testserver"
)

// BenchmarkSlackRoundTrip measures, against the fake Slack, how long a new
// request takes to appear in Slack (create → chat.postMessage) and a
// decision taken through the API to reach the message (decide →
// chat.update): the audit seal, the River job and the API call.
//
//	go test ./internal/channels -run '^$' -bench SlackRoundTrip -benchtime 50x
//	AGENTGATE_BENCH_POSTGRES=1 AGENTGATE_TEST_POSTGRES_URL=… (same) for PostgreSQL
func BenchmarkSlackRoundTrip(b *testing.B) {
	dbURL := ""
	if testing.Short() {
		b.Skip("short")
	}
	if v := getenv("AGENTGATE_BENCH_POSTGRES"); v != "" {
		dbURL = testserver.PostgresURL(b)
	}
	h := start(b, dbURL, nil)
	h.policy(map[string]any{"match": map[string]any{"action": "deploy"}, "decision": "route_to_human", "channels": []string{"slack:#ops"}})
	var post, update time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		r := h.create("deploy", map[string]any{"n": 1})
		h.slackPost(r.ID, "#ops")
		t1 := time.Now()
		if st := h.call(h.approver, "POST", "/api/requests/"+r.ID+"/decide", map[string]any{"decision": "approved"}, nil); st != http.StatusOK {
			b.Fatalf("decide: %d", st)
		}
		t2 := time.Now()
		if _, err := h.slack.Wait("chat.update", func(c channeltest.Call) bool {
			return strings.Contains(c.Form.Get("blocks"), `"text":"Request: `+r.ID+`"`) && strings.Contains(c.Form.Get("blocks"), "Approved by")
		}, waitTimeout); err != nil {
			b.Fatal(err)
		}
		post += t1.Sub(t0)
		update += time.Since(t2)
	}
	b.ReportMetric(float64(post.Milliseconds())/float64(b.N), "ms-to-post")
	b.ReportMetric(float64(update.Milliseconds())/float64(b.N), "ms-to-update")
}

func getenv(k string) string { return strings.TrimSpace(os.Getenv(k)) }
