package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
)

// Signature headers and limits of the interactivity endpoint.
const (
	HeaderTimestamp = "X-Slack-Request-Timestamp"
	HeaderSignature = "X-Slack-Signature"
	// MaxSkew is how far a request's timestamp may be from our clock.
	MaxSkew = 5 * time.Minute
	// MaxBody bounds an interaction payload.
	MaxBody = 1 << 20
	// modalCallback identifies our decision modal.
	modalCallback = "agentgate_decide"
)

// Sign returns the v0 signature Slack sends for body at timestamp ts
// (Unix seconds): "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body)).
func Sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrMissingSignature = errors.New("missing Slack signature headers")
	ErrStale            = errors.New("stale Slack request timestamp")
	ErrBadSignature     = errors.New("invalid Slack signature")
)

// Verify checks a request's v0 signature and that its timestamp is within
// MaxSkew of now (older requests may be replays).
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	ts, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return ErrMissingSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

// Handler serves the interactivity endpoint (POST
// /integrations/slack/interactions): Approve decides at once (or opens a
// modal when the rule requires a reason), Deny opens a modal asking for
// the reason, and the modal's submission decides. Every decision is taken
// as the Slack user; the messages are then updated by the channel jobs
// like for any other decision.
type Handler struct {
	svc      *channels.Service
	api      *slack.Client
	cfg      Config
	http     *http.Client
	log      *slog.Logger
	now      func() time.Time
	respHost []string // hosts a response_url may point to
}

// NewHandler returns the endpoint's handler. now may be nil (time.Now).
func NewHandler(svc *channels.Service, api *slack.Client, cfg Config, log *slog.Logger, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	hosts := []string{"hooks.slack.com"}
	if u, err := url.Parse(cfg.APIURL); err == nil && u.Host != "" {
		hosts = append(hosts, u.Host)
	}
	return &Handler{svc: svc, api: api, cfg: cfg, http: hc, log: log, now: now, respHost: hosts}
}

// Handle is the endpoint's handler (an httpapi.HandlerFunc). A request with
// a missing, wrong or stale signature, or a replay of one already handled,
// is refused with 401 before anything else happens.
func (h *Handler) Handle(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return approval.Errorf(approval.CodeTooLarge, "interaction payload too large")
		}
		return approval.Wrap(approval.CodeInvalid, err, "could not read the interaction payload")
	}
	if err := Verify(h.cfg.SigningSecret, r.Header, body, h.now()); err != nil {
		return approval.Wrap(approval.CodeUnauthenticated, err, "invalid or stale Slack signature")
	}
	// Slack does not retry interactions: the same signed body twice is a
	// replay. The record is shared by every replica.
	fresh, err := h.svc.FirstUse(r.Context(), "slack:"+r.Header.Get(HeaderSignature), 2*MaxSkew)
	if err != nil {
		return err
	}
	if !fresh {
		return approval.Errorf(approval.CodeUnauthenticated, "this Slack interaction was already handled")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return approval.Wrap(approval.CodeInvalid, err, "the interaction payload is not form-encoded")
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		return approval.Wrap(approval.CodeInvalid, err, "the interaction payload is not valid JSON")
	}
	if cb.User.ID == "" {
		return approval.Errorf(approval.CodeInvalid, "the interaction payload names no user")
	}
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		h.blockActions(r.Context(), &cb)
	case slack.InteractionTypeViewSubmission:
		return h.viewSubmission(r.Context(), w, &cb)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// actor is the Slack user as an approval actor.
func actor(u slack.User) approval.Actor {
	name := u.Name
	if name == "" {
		name = u.Username
	}
	if name == "" {
		name = u.ID
	}
	return approval.Actor{ID: "slack:" + u.ID, Name: name, Type: approval.ActorHuman, Channel: channels.KindSlack}
}

// allowed applies SLACK_APPROVERS.
func (h *Handler) allowed(userID string) bool {
	return len(h.cfg.Approvers) == 0 || slices.Contains(h.cfg.Approvers, userID)
}

const notAllowed = "You are not allowed to decide AgentGate requests from Slack (SLACK_APPROVERS)."

// blockActions handles a button: Approve, Deny, or the dashboard link
// (which needs no answer). Refusals go back to the clicker alone.
func (h *Handler) blockActions(ctx context.Context, cb *slack.InteractionCallback) {
	if len(cb.ActionCallback.BlockActions) == 0 {
		return
	}
	a := cb.ActionCallback.BlockActions[0]
	var (
		decision approval.Status
		id       string
	)
	switch {
	case strings.HasPrefix(a.ActionID, approvePrefix):
		decision, id = approval.StatusApproved, strings.TrimPrefix(a.ActionID, approvePrefix)
	case strings.HasPrefix(a.ActionID, denyPrefix):
		decision, id = approval.StatusDenied, strings.TrimPrefix(a.ActionID, denyPrefix)
	default:
		return
	}
	if !h.allowed(cb.User.ID) {
		h.ephemeral(cb.ResponseURL, notAllowed)
		return
	}
	req, err := h.svc.Approvals().Get(ctx, id)
	if err != nil {
		h.ephemeral(cb.ResponseURL, approval.ErrorMessage(err))
		return
	}
	if req.Decided() {
		h.ephemeral(cb.ResponseURL, alreadyDecided(req))
		return
	}
	if decision == approval.StatusDenied || req.PolicyDecision.RequireReason {
		if _, err := h.api.OpenViewContext(ctx, cb.TriggerID, modal(req, decision)); err != nil {
			h.log.Warn("slack: could not open the decision modal", "request_id", id, "err", err)
			h.ephemeral(cb.ResponseURL, "Could not open the form to "+verb(decision)+" this request; try again or use the dashboard.")
		}
		return
	}
	if _, err := h.svc.Approvals().Decide(ctx, actor(cb.User), id, approval.DecideInput{Decision: decision}); err != nil {
		h.refuse(ctx, cb.ResponseURL, id, err)
	}
}

// refuse answers a decision that did not go through.
func (h *Handler) refuse(ctx context.Context, responseURL, id string, err error) {
	if approval.ErrorCode(err) == approval.CodeInternal {
		h.log.Error("slack: decision failed", "request_id", id, "err", err)
	}
	msg := approval.ErrorMessage(err)
	if approval.ErrorCode(err) == approval.CodeConflict {
		if req, gerr := h.svc.Approvals().Get(ctx, id); gerr == nil && req.Decided() {
			msg = alreadyDecided(req)
		}
	}
	h.ephemeral(responseURL, msg)
}

func verb(d approval.Status) string {
	if d == approval.StatusDenied {
		return "deny"
	}
	return "approve"
}

// alreadyDecided says who decided req ("This request was already approved
// by alice.").
func alreadyDecided(req *approval.Request) string {
	line := channels.StatusLine(&channels.Message{Request: req})
	return "This request was already decided: " + line + "."
}

// metadata travels in the modal's private_metadata.
type metadata struct {
	ID       string          `json:"id"`
	Decision approval.Status `json:"decision"`
}

// modal asks for the reason of a decision.
func modal(req *approval.Request, d approval.Status) slack.ModalViewRequest {
	meta, _ := json.Marshal(metadata{ID: req.ID, Decision: d})
	title, submit := "Deny request", "Deny"
	if d == approval.StatusApproved {
		title, submit = "Approve request", "Approve"
	}
	input := slack.NewPlainTextInputBlockElement(plain("Why?"), "reason")
	input.Multiline = true
	input.MaxLength = 3000
	reason := slack.NewInputBlock("reason", plain("Reason"), nil, input)
	reason.Optional = !req.PolicyDecision.RequireReason
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      modalCallback,
		Title:           plain(title),
		Submit:          plain(submit),
		Close:           plain("Cancel"),
		PrivateMetadata: string(meta),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(plain(channels.Truncate(channels.Headline(req)+" ("+req.ID+")", 2900)), nil, nil),
			reason,
		}},
	}
}

// viewSubmission decides from the modal. A refusal is shown in the modal,
// under the reason field; success closes it.
func (h *Handler) viewSubmission(ctx context.Context, w http.ResponseWriter, cb *slack.InteractionCallback) error {
	if cb.View.CallbackID != modalCallback {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	var meta metadata
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.ID == "" ||
		(meta.Decision != approval.StatusApproved && meta.Decision != approval.StatusDenied) {
		return approval.Errorf(approval.CodeInvalid, "the modal's metadata is not ours")
	}
	if !h.allowed(cb.User.ID) {
		return writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{"reason": notAllowed}))
	}
	reason := ""
	if cb.View.State != nil {
		reason = cb.View.State.Values["reason"]["reason"].Value
	}
	_, err := h.svc.Approvals().Decide(ctx, actor(cb.User), meta.ID, approval.DecideInput{Decision: meta.Decision, Reason: reason})
	if err != nil {
		if approval.ErrorCode(err) == approval.CodeInternal {
			h.log.Error("slack: decision failed", "request_id", meta.ID, "err", err)
		}
		msg := approval.ErrorMessage(err)
		if approval.ErrorCode(err) == approval.CodeConflict {
			if req, gerr := h.svc.Approvals().Get(ctx, meta.ID); gerr == nil && req.Decided() {
				msg = alreadyDecided(req)
			}
		}
		return writeJSON(w, slack.NewErrorsViewSubmissionResponse(map[string]string{"reason": channels.Truncate(msg, 1000)}))
	}
	return writeJSON(w, slack.NewClearViewSubmissionResponse())
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// escape neutralises Slack's control characters in mrkdwn text.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// ephemeral shows text to the clicker only, through the interaction's
// response_url, in the background: the endpoint must answer Slack within
// three seconds. response_url must point at Slack (or the configured API
// host, for fakes).
func (h *Handler) ephemeral(responseURL, text string) {
	u, err := url.Parse(responseURL)
	if err != nil || !slices.Contains(h.respHost, u.Host) || (u.Scheme != "https" && u.Host == "hooks.slack.com") {
		h.log.Warn("slack: refusing to answer through an unexpected response_url")
		return
	}
	body, _ := json.Marshal(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": escape(text)})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.http.Do(req)
		if err != nil {
			h.log.Warn("slack: response_url post failed", "err", err)
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			h.log.Warn("slack: response_url post refused", "status", resp.StatusCode)
		}
	}()
}
