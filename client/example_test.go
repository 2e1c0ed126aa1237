package client_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/agentgate/agentgate/client"
)

// An agent asks before it acts and waits for the decision. (In these
// examples a simulated reviewer approves send_email and denies
// delete_database requests at once.)
func Example() {
	c, err := client.New(serverURL, agentKey) // e.g. "http://localhost:3000", os.Getenv("AGENTGATE_API_KEY")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	r, err := c.RequestAndWait(ctx, client.RequestInput{
		Action: "send_email",
		Params: map[string]any{"to": "customer@example.com", "subject": "Your refund"},
	})
	if err != nil {
		log.Fatal(err) // unreachable server, bad key, timeout: do not act
	}
	if !r.Approved() {
		fmt.Println("not approved:", r.Status, r.DecisionReason)
		return
	}
	fmt.Println("approved by", r.DecidedBy+":", r.DecisionReason)
	// Output: approved by reviewer: fine
}

// A denial is a normal answer, not an error.
func ExampleClient_Wait() {
	c, err := client.New(serverURL, agentKey)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	r, err := c.Request(ctx, client.RequestInput{
		Action:  "delete_database",
		Params:  map[string]any{"name": "orders"},
		Context: map[string]any{"reason": "cleanup"},
		Urgency: client.UrgencyHigh,
	})
	if err != nil {
		log.Fatal(err)
	}
	r, err = c.Wait(ctx, r.ID)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("nobody decided within the hour")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(r.Status+":", r.DecisionReason)
	}
	// Output: denied: never in production
}

// A person (or another service) decides with a key that has the
// request:decide scope. Only one decision wins.
func ExampleClient_Decide() {
	agent, _ := client.New(serverURL, agentKey)
	approver, _ := client.New(serverURL, approverKey)
	ctx := context.Background()

	r, err := agent.Request(ctx, client.RequestInput{Action: "deploy", Params: map[string]any{"service": "api", "version": "1.4.2"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("asked:", r.Status)

	d, err := approver.Decide(ctx, r.ID, client.DecideInput{Decision: client.StatusApproved, Reason: "release window"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("decided:", d.Status, "by", d.DecidedBy)

	_, err = approver.Decide(ctx, r.ID, client.DecideInput{Decision: client.StatusDenied})
	if errors.Is(err, client.ErrConflict) {
		var apiErr *client.APIError
		errors.As(err, &apiErr)
		fmt.Println("second decision:", apiErr.StatusCode, apiErr.Message)
	}
	// Output:
	// asked: pending
	// decided: approved by approver
	// second decision: 409 Request already approved
}

// Params keep their exact JSON: decode them into a struct, or into a map
// whose numbers are json.Number.
func ExampleRequest_DecodeParams() {
	c, _ := client.New(serverURL, agentKey)
	r, err := c.Request(context.Background(), client.RequestInput{
		Action: "transfer",
		Params: map[string]any{"account": "DE89 3704", "cents": int64(9007199254740993)},
	})
	if err != nil {
		log.Fatal(err)
	}
	var p struct {
		Account string `json:"account"`
		Cents   int64  `json:"cents"`
	}
	if err := r.DecodeParams(&p); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Account, p.Cents)
	// Output: DE89 3704 9007199254740993
}

// List iterates over every matching request, page by page.
func ExampleClient_List() {
	c, _ := client.New(serverURL, agentKey)
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Request(ctx, client.RequestInput{Action: "rotate_key", Params: map[string]any{"n": i}}); err != nil {
			log.Fatal(err)
		}
	}
	n := 0
	for r, err := range c.List(ctx, client.ListOptions{Action: "rotate_key", Status: client.StatusPending, Limit: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		n++
		_ = r.ID
	}
	fmt.Println(n, "pending rotate_key requests")
	// Output: 3 pending rotate_key requests
}

// Errors from the server are *client.APIError values; errors.Is tells
// their class.
func ExampleAPIError() {
	c, _ := client.New(serverURL, agentKey)
	_, err := c.Get(context.Background(), "req_does_not_exist")
	fmt.Println(errors.Is(err, client.ErrNotFound))

	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}

	bad, _ := client.New(serverURL, "agk_not_a_real_key")
	_, err = bad.Me(context.Background())
	fmt.Println(errors.Is(err, client.ErrUnauthorized))
	// Output:
	// true
	// 404 Request not found
	// true
}

// A server that cannot be reached is ErrUnreachable, after the retries.
func ExampleErrUnreachable() {
	c, _ := client.New("http://127.0.0.1:1", agentKey, client.WithRetry(1, time.Millisecond, time.Millisecond))
	_, err := c.Me(context.Background())
	if errors.Is(err, client.ErrUnreachable) {
		fmt.Println("cannot reach AgentGate at", c.BaseURL()+": is the server running?")
	}
	// Output: cannot reach AgentGate at http://127.0.0.1:1: is the server running?
}

// Events streams what happens, reconnecting by itself.
func ExampleClient_Events() {
	c, _ := client.New(serverURL, agentKey)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Ask, then stream from just after the request was created: Events
	// replays what happened in between, so nothing is missed.
	r, err := c.Request(ctx, client.RequestInput{Action: "send_email", Params: map[string]any{"to": "a@example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	audit, err := c.Audit(ctx, r.ID)
	if err != nil {
		log.Fatal(err)
	}
	created := audit[0].ID
	for ev, err := range c.Events(ctx, client.EventsOptions{RequestID: []string{r.ID}, LastEventID: created}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Type, ev.Request.Status)
		if ev.Request.Status.Final() {
			break
		}
	}
	// Output: request.decided approved
}

// Policies decide routine requests without a person.
func ExampleClient_CreatePolicy() {
	admin, _ := client.New(serverURL, adminKey)
	agent, _ := client.New(serverURL, agentKey)
	ctx := context.Background()

	p, err := admin.CreatePolicy(ctx, client.PolicyInput{
		Name: "reads are safe",
		Rules: []client.Rule{
			{Match: map[string]any{"action": "read_file"}, Decision: client.DecisionAutoApprove},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer admin.DeletePolicy(ctx, p.ID)

	r, err := agent.Request(ctx, client.RequestInput{Action: "read_file", Params: map[string]any{"path": "README.md"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Status, "by", r.DecidedByType, "policy", r.PolicyDecision.PolicyName)
	// Output: approved by policy policy reads are safe
}

// A webhook receiver checks the signature of the raw body, and the
// delivery's age.
func ExampleVerifyWebhook() {
	secret := "whsec_example"
	body := []byte(`{"event":"request.decided","data":{"request":{"id":"req_1","status":"approved"}}}`)

	// What the server sends (computed here for the example):
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	timestamp := strconv.FormatInt(time.Now().Unix(), 10)

	// In an http.Handler: body, _ := io.ReadAll(r.Body), then
	// signature := r.Header.Get(client.SignatureHeader) and
	// timestamp := r.Header.Get(client.TimestampHeader).
	if err := client.VerifyWebhook(secret, signature, body); err != nil {
		fmt.Println("reject:", err)
		return
	}
	if err := client.VerifyWebhookTimestamp(timestamp, 5*time.Minute, time.Now()); err != nil {
		fmt.Println("reject:", err)
		return
	}
	fmt.Println("valid")

	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-5] = 'X'
	fmt.Println(client.VerifyWebhook(secret, signature, tampered))
	// Output:
	// valid
	// agentgate: webhook signature does not match
}
