package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentgate/agentgate/internal/approval"
	"github.com/agentgate/agentgate/internal/channels"
)

// Signature headers and limits of the interactions endpoint.
const (
	HeaderSignature = "X-Signature-Ed25519"
	HeaderTimestamp = "X-Signature-Timestamp"
	// MaxSkew is how far a request's timestamp may be from our clock.
	MaxSkew = 5 * time.Minute
	// MaxBody bounds an interaction.
	MaxBody = 1 << 20
)

// Interaction types and response types.
const (
	typePing           = 1
	typeComponent      = 3
	typeModalSubmit    = 5
	respPong           = 1
	respChannelMessage = 4
	respUpdateMessage  = 7
	respModal          = 9
	flagEphemeral      = 64
)

// ParsePublicKey decodes DISCORD_PUBLIC_KEY (64 hex digits).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("DISCORD_PUBLIC_KEY must be the application's public key: 64 hex digits")
	}
	return ed25519.PublicKey(b), nil
}

// Errors of Verify.
var (
	ErrMissingSignature = errors.New("missing Discord signature headers")
	ErrStale            = errors.New("stale Discord request timestamp")
	ErrBadSignature     = errors.New("invalid Discord signature")
)

// Verify checks the Ed25519 signature of timestamp + body and that the
// timestamp is within MaxSkew of now.
func Verify(pub ed25519.PublicKey, h http.Header, body []byte, now time.Time) error {
	sigHex, ts := h.Get(HeaderSignature), h.Get(HeaderTimestamp)
	if sigHex == "" || ts == "" {
		return ErrMissingSignature
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	msg := make([]byte, 0, len(ts)+len(body))
	msg = append(append(msg, ts...), body...)
	if !ed25519.Verify(pub, msg, sig) {
		return ErrBadSignature
	}
	return nil
}

// Handler serves the interactions endpoint (POST
// /integrations/discord/interactions): PING, button clicks and the
// reason modal. A click answers with the updated message (buttons
// disabled) once it decided; refusals are ephemeral.
type Handler struct {
	svc       *channels.Service
	pub       ed25519.PublicKey
	approvers []string
	log       *slog.Logger
	now       func() time.Time
}

// NewHandler returns the endpoint's handler. now may be nil (time.Now).
func NewHandler(svc *channels.Service, cfg Config, log *slog.Logger, now func() time.Time) (*Handler, error) {
	pub, err := ParsePublicKey(cfg.PublicKey)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{svc: svc, pub: pub, approvers: cfg.Approvers, log: log, now: now}, nil
}

type user struct {
	ID         string `json:"id"`
	Username   string `json:"username"`
	GlobalName string `json:"global_name"`
}

type interaction struct {
	Type int `json:"type"`
	Data struct {
		CustomID   string      `json:"custom_id"`
		Components []Component `json:"components"`
	} `json:"data"`
	Member *struct {
		User *user `json:"user"`
	} `json:"member"`
	User *user `json:"user"`
}

func (in *interaction) user() *user {
	if in.Member != nil && in.Member.User != nil {
		return in.Member.User
	}
	return in.User
}

// response is an interaction response.
type response struct {
	Type int `json:"type"`
	Data any `json:"data,omitempty"`
}

// Handle is the endpoint's handler (an httpapi.HandlerFunc). A request with
// a missing, wrong or stale signature, or a replay of one already handled,
// is refused with 401 before anything else happens.
func (h *Handler) Handle(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return approval.Errorf(approval.CodeTooLarge, "interaction too large")
		}
		return approval.Wrap(approval.CodeInvalid, err, "could not read the interaction")
	}
	if err := Verify(h.pub, r.Header, body, h.now()); err != nil {
		return approval.Wrap(approval.CodeUnauthenticated, err, "invalid request signature")
	}
	// Discord does not resend an interaction: the same signed body twice
	// is a replay.
	fresh, err := h.svc.FirstUse(r.Context(), "discord:"+strings.ToLower(r.Header.Get(HeaderSignature)), 2*MaxSkew)
	if err != nil {
		return err
	}
	if !fresh {
		return approval.Errorf(approval.CodeUnauthenticated, "this Discord interaction was already handled")
	}
	var in interaction
	if err := json.Unmarshal(body, &in); err != nil {
		return approval.Wrap(approval.CodeInvalid, err, "the interaction is not valid JSON")
	}
	var resp response
	switch in.Type {
	case typePing:
		resp = response{Type: respPong}
	case typeComponent:
		resp, err = h.component(r.Context(), &in)
	case typeModalSubmit:
		resp, err = h.modalSubmit(r.Context(), &in)
	default:
		return approval.Errorf(approval.CodeInvalid, "unsupported interaction type %d", in.Type)
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}

func actor(u *user) approval.Actor {
	name := u.GlobalName
	if name == "" {
		name = u.Username
	}
	if name == "" {
		name = u.ID
	}
	return approval.Actor{ID: "discord:" + u.ID, Name: name, Type: approval.ActorHuman, Channel: channels.KindDiscord}
}

func ephemeral(text string) response {
	return response{Type: respChannelMessage, Data: &MessageBody{Content: channels.Truncate(Escape(text), 1900),
		Flags: flagEphemeral, AllowedMentions: &AllowedMentions{Parse: []string{}}}}
}

const notAllowed = "You are not allowed to decide AgentGate requests from Discord (DISCORD_APPROVERS)."

func (h *Handler) allowed(id string) bool {
	return len(h.approvers) == 0 || slices.Contains(h.approvers, id)
}

// component handles Approve and Deny.
func (h *Handler) component(ctx context.Context, in *interaction) (response, error) {
	u := in.user()
	if u == nil || u.ID == "" {
		return response{}, approval.Errorf(approval.CodeInvalid, "the interaction names no user")
	}
	var (
		decision approval.Status
		id       string
	)
	switch c := in.Data.CustomID; {
	case strings.HasPrefix(c, approvePrefix):
		decision, id = approval.StatusApproved, strings.TrimPrefix(c, approvePrefix)
	case strings.HasPrefix(c, denyPrefix):
		decision, id = approval.StatusDenied, strings.TrimPrefix(c, denyPrefix)
	default:
		return ephemeral("This button is not AgentGate's."), nil
	}
	if !h.allowed(u.ID) {
		return ephemeral(notAllowed), nil
	}
	req, err := h.svc.Approvals().Get(ctx, id)
	if err != nil {
		return h.refusal(ctx, id, err), nil
	}
	if req.Decided() {
		return ephemeral(alreadyDecided(req)), nil
	}
	if decision == approval.StatusDenied || req.PolicyDecision.RequireReason {
		return modal(req, decision), nil
	}
	return h.decide(ctx, u, id, decision, "")
}

// modalSubmit decides with the reason typed in the modal.
func (h *Handler) modalSubmit(ctx context.Context, in *interaction) (response, error) {
	u := in.user()
	if u == nil || u.ID == "" {
		return response{}, approval.Errorf(approval.CodeInvalid, "the interaction names no user")
	}
	rest, ok := strings.CutPrefix(in.Data.CustomID, reasonPrefix)
	d, id, ok2 := strings.Cut(rest, ":")
	decision := approval.Status(d)
	if !ok || !ok2 || (decision != approval.StatusApproved && decision != approval.StatusDenied) {
		return ephemeral("This form is not AgentGate's."), nil
	}
	if !h.allowed(u.ID) {
		return ephemeral(notAllowed), nil
	}
	reason := ""
	for _, row := range in.Data.Components {
		for _, c := range row.Components {
			if c.CustomID == "reason" {
				reason = c.Value
			}
		}
	}
	return h.decide(ctx, u, id, decision, reason)
}

// decide takes the decision and answers with the updated message.
func (h *Handler) decide(ctx context.Context, u *user, id string, decision approval.Status, reason string) (response, error) {
	req, err := h.svc.Approvals().Decide(ctx, actor(u), id, approval.DecideInput{Decision: decision, Reason: reason})
	if err != nil {
		return h.refusal(ctx, id, err), nil
	}
	m, err := h.svc.Message(ctx, req, nil)
	if err != nil {
		return response{}, err
	}
	return response{Type: respUpdateMessage, Data: Render(m)}, nil
}

// refusal explains a decision that did not go through, to the clicker only.
func (h *Handler) refusal(ctx context.Context, id string, err error) response {
	if approval.ErrorCode(err) == approval.CodeInternal {
		h.log.Error("discord: decision failed", "request_id", id, "err", err)
	}
	if approval.ErrorCode(err) == approval.CodeConflict {
		if req, gerr := h.svc.Approvals().Get(ctx, id); gerr == nil && req.Decided() {
			return ephemeral(alreadyDecided(req))
		}
	}
	return ephemeral(approval.ErrorMessage(err))
}

func alreadyDecided(req *approval.Request) string {
	return "This request was already decided: " + channels.StatusLine(&channels.Message{Request: req}) + "."
}

// modal asks for the reason of a decision.
func modal(req *approval.Request, d approval.Status) response {
	title := "Deny request"
	if d == approval.StatusApproved {
		title = "Approve request"
	}
	required := req.PolicyDecision.RequireReason
	return response{Type: respModal, Data: map[string]any{
		"custom_id": fmt.Sprintf("%s%s:%s", reasonPrefix, d, req.ID),
		"title":     title,
		"components": []Component{{Type: ComponentActionRow, Components: []Component{{
			Type: ComponentTextInput, CustomID: "reason", Style: TextParagraph, Label: "Reason",
			Required: &required, MaxLength: 4000, Placeholder: channels.Truncate(channels.Headline(req), 100),
		}}}},
	}}
}
