// Package client is the Go SDK of AgentGate, the approval gateway for AI
// agents: an agent asks before it acts, policies or people decide, and the
// agent learns the decision the moment it is made.
//
// The package uses only the standard library.
//
// # Asking and waiting
//
//	c, err := client.New("http://localhost:3000", os.Getenv("AGENTGATE_API_KEY"))
//	if err != nil {
//		return err
//	}
//	r, err := c.RequestAndWait(ctx, client.RequestInput{
//		Action: "send_email",
//		Params: map[string]any{"to": "customer@example.com"},
//	})
//	if err != nil {
//		return err // not reachable, bad key, ctx ended: do not act
//	}
//	if !r.Approved() {
//		return fmt.Errorf("not approved: %s %s", r.Status, r.DecisionReason)
//	}
//	// act
//
// A denial is not an error: Request, Wait and Decide return the request,
// and its Status says approved, denied or expired. Act only when
// Request.Approved reports true; anything else, including any error,
// means "do not act".
//
// Wait long-polls the server, which answers within milliseconds of the
// decision. It survives dropped connections and server restarts by
// retrying with backoff, and only its context ends it: give it a deadline.
// Against a server without the long-poll endpoint it polls instead (see
// Wait).
//
// # Retries and idempotency
//
// Every call retries, with exponential backoff and jitter (WithRetry), the
// failures that another attempt can fix: no connection, 429 (waiting for
// the server's Retry-After), 502, 503 and 504, and 500 for GET, PUT and
// DELETE. Nothing else (400, 401, 403, 404, 409, 422) is retried.
//
// A failure after the call may have reached the server (a reset
// connection, a gateway error) is retried only where repeating the call is
// harmless: reads, PUT, DELETE, PATCH, and the two calls made safe on
// purpose. Request sends an Idempotency-Key, the same on every attempt,
// so the server returns the request the first attempt created instead of
// creating another. Decide, when a retry finds the request already decided
// (409), checks whether the recorded decision is its own first attempt's
// and then reports success. CreateKey and CreatePolicy are not retried
// after such failures.
//
// # Errors
//
// The server's error answers are *APIError values with the status, the
// server's message and its request id. Test their class with errors.Is and
// the sentinels ErrNotFound, ErrConflict, ErrUnauthorized, ErrForbidden,
// ErrInvalid, ErrRateLimited and ErrUnavailable. ErrUnreachable marks
// failures without any answer (refused, DNS, reset, timeout), so a CLI can
// say "is the server running?".
//
// # Events and webhooks
//
// Events streams request events over Server-Sent Events and resumes
// after a reconnection without losing any. Webhook receivers check
// deliveries with VerifyWebhook and VerifyWebhookTimestamp.
package client
