/** Wire types of the AgentGate REST API (see the server's wire package). */

export type RequestStatus = "pending" | "approved" | "denied" | "expired";
export type Urgency = "low" | "normal" | "high" | "critical";
export type PolicyDecisionKind = "auto_approve" | "auto_deny" | "route_to_human";

/** What the policies decided when the request was created. */
export interface PolicyDecision {
  decision: PolicyDecisionKind;
  policyId?: string;
  policyName?: string;
  ruleIndex: number | null;
  reason: string;
  approvers?: string[];
  channels?: string[];
  requireReason?: boolean;
  onTimeout?: string;
  /** The rule's quorum, when it needs several distinct approvals. */
  approvals?: Quorum;
  /** The rule's escalation steps, when it has some. */
  escalate?: EscalationStep[];
}

/** A rule's requirement of several distinct approvals; any denial is a veto. */
export interface Quorum {
  required: number;
  /** Who may approve (identities or "group:NAME"); absent means anyone allowed to decide. */
  from?: string[];
}

/** Notify `to` after `after` (a Go duration such as "15m0s") without a decision. */
export interface EscalationStep {
  after: string;
  to: string[];
}

/** A quorum's progress. */
export interface Approvals {
  required: number;
  received: number;
}

/** Who decided a request: a policy rule, a person, the system (expiry), or a time-boxed grant. */
export type ActorType = "policy" | "human" | "system" | "grant";

/** An approval request. Times are RFC 3339 strings (UTC, milliseconds). */
export interface ApprovalRequest {
  id: string;
  action: string;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
  status: RequestStatus;
  urgency: Urgency;
  createdAt: string;
  updatedAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decidedById: string | null;
  decidedByType: ActorType | null;
  decidedByLabel?: string;
  decisionReason: string | null;
  expiresAt: string | null;
  /** Milliseconds until expiry while pending; null otherwise. */
  slaRemainingMs: number | null;
  policyDecision: PolicyDecision;
  agent: { id: string; name: string };
  /**
   * The params an approver edited and approved; null when nobody edited
   * them. An agent must act on these instead of its own: use
   * `actionParams(request)`, which picks them when present.
   */
  approvedParams: Record<string, unknown> | null;
  /** A quorum's progress; present only when the rule needs several approvals. */
  approvals?: Approvals;
  /** How many escalation steps fired; absent when none did. */
  escalationLevel?: number;
  /** The time-boxed grant that approved the request (decidedByType "grant"). */
  grantId?: string;
}

/**
 * What withApproval passes to the guarded function: the approved request,
 * with `params` set to the params to act on (the approver's edit, if any).
 */
export interface ApprovalReceipt extends ApprovalRequest {
  /** The params to act on: `actionParams(request)`. */
  params: Record<string, unknown>;
  /** The params the agent asked with. */
  requestedParams: Record<string, unknown>;
  /** True when an approver changed the params before approving. */
  edited: boolean;
}

export interface Pagination {
  total: number;
  limit: number;
  offset: number;
  hasMore: boolean;
}

/**
 * One page of requests. It is an array (as the upstream SDK's
 * listRequests returned), with the page envelope attached.
 */
export type RequestPage = ApprovalRequest[] & { pagination: Pagination };

export interface CreateRequestInput {
  action: string;
  params?: Record<string, unknown>;
  context?: Record<string, unknown>;
  urgency?: Urgency;
  /** When the request expires if nobody decides (server default: 1 hour). */
  expiresAt?: Date | string;
  /**
   * Makes retries of this creation safe: the same key and body return the
   * original request instead of a second one. The SDK generates one per
   * call when omitted; pass your own to dedupe across process restarts.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export type RequestSort = "newest" | "created_at" | "urgency" | "sla_remaining";

export interface ListRequestsOptions {
  status?: RequestStatus;
  action?: string;
  agentId?: string;
  decidedBy?: string;
  /** RFC 3339 time or date (inclusive). */
  from?: Date | string;
  to?: Date | string;
  sort?: RequestSort;
  /** 1..100, server default 50. */
  limit?: number;
  offset?: number;
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Give up (WaitTimeoutError) after this long. Default: no limit; the server's expiry ends the wait. */
  timeoutMs?: number;
  /** Upstream SDK name for timeoutMs. */
  timeout?: number;
  /** Abort the wait; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Polling interval when the server has no long-poll route. Default 2000. */
  pollIntervalMs?: number;
  /** Upstream SDK name for pollIntervalMs. */
  pollInterval?: number;
}

export interface DecideInput {
  decision: "approved" | "denied";
  reason?: string;
  /** A label for the decider shown next to the key's identity (e.g. a person's name). */
  decidedBy?: string;
  /**
   * With an approval: edited params (a JSON object) that replace the
   * agent's. The policies are evaluated again on the edited request (an edit
   * they would deny is refused with 422); the agent receives them as
   * `approvedParams`.
   */
  params?: Record<string, unknown>;
  /** With an approval: also approve the same agent's next requests for the same action for a while. */
  grant?: GrantInput;
  signal?: AbortSignal;
}

/**
 * A time-boxed grant created with an approval. Give the duration as
 * `durationMs` (milliseconds) or `duration` (a Go duration string such as
 * "1h" or "30m"), not both; at most 30 days.
 */
export interface GrantInput {
  durationMs?: number;
  duration?: string;
  /** How many requests it may approve; absent means no limit. */
  maxUses?: number;
  /** Restricts it to requests whose params match, e.g. `{"params.amount": {"$lte": 100}}`. */
  conditions?: Record<string, unknown>;
}

export interface DecideBatchInput {
  decision: "approved" | "denied";
  reason?: string;
  decidedBy?: string;
  signal?: AbortSignal;
}

/** The outcome of one decision of decideBatch. */
export interface BatchResult {
  id: string;
  ok: boolean;
  /** The HTTP status this decision alone would have had (200, 403, 404, 409, ...). */
  status: number;
  /** The server's message when ok is false. */
  error?: string;
  /** The decided (or, for a quorum vote, still pending) request when ok is true. */
  request?: ApprovalRequest;
}

/** A time-boxed auto-approval created with an approval. */
export interface Grant {
  id: string;
  agentId: string;
  action: string;
  conditions: Record<string, unknown> | null;
  expiresAt: string;
  maxUses: number | null;
  uses: number;
  /** The request whose approval created it. */
  requestId: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  /** Not revoked, not expired, not used up. */
  active: boolean;
}

export interface ListGrantsOptions {
  agentId?: string;
  action?: string;
  /** Only grants that can still approve (not revoked, expired or used up). */
  activeOnly?: boolean;
  /** 1..100, server default 50. */
  limit?: number;
  offset?: number;
  signal?: AbortSignal;
}

/** A named set of approver identities, used as "group:NAME" in rules. */
export interface Group {
  name: string;
  /** Key names or ids, "slack:U…", "email:…". */
  members: string[];
  /** "api", or "file" for groups from the policy file (read-only through the API). */
  source: string;
  createdAt: string;
  updatedAt: string;
}

export interface PolicyRule {
  match: Record<string, unknown>;
  when?: string;
  decision: PolicyDecisionKind;
  approvers?: string[];
  channels?: string[];
  requireReason?: boolean;
  /** Go duration such as "15m". */
  timeout?: string;
  onTimeout?: string;
  /** Needs this many distinct approvals (route_to_human only). */
  approvals?: Quorum;
  /** Notify more people while still pending (route_to_human only). */
  escalate?: EscalationStep[];
}

export interface PolicyInput {
  name: string;
  rules: PolicyRule[];
  /** Lower runs first; default 100. */
  priority?: number;
  enabled?: boolean;
  scope?: string;
  agentIds?: string[];
  toolIds?: string[];
}

export interface Policy {
  id: string;
  name: string;
  priority: number;
  enabled: boolean;
  scope: string;
  agentIds: string[];
  toolIds: string[];
  rules: PolicyRule[];
  source: string;
  createdAt: string;
  updatedAt: string;
}

export interface PolicyList {
  policies: Policy[];
  pagination: Pagination;
}

export interface DryRunInput {
  action: string;
  params?: Record<string, unknown>;
  context?: Record<string, unknown>;
  urgency?: Urgency;
  agent?: { id?: string; name?: string };
}

export interface DryRunResult extends PolicyDecision {
  matched: boolean;
  errors?: string[];
}

export type Scope = "admin" | "request:create" | "request:read" | "request:decide" | "webhook:manage";

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  rateLimit: number | null;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  active: boolean;
}

/** The answer to createApiKey: the only time the secret `key` is shown. */
export interface CreatedApiKey extends ApiKey {
  key: string;
  message: string;
}

export interface CreateApiKeyInput {
  name: string;
  scopes: Scope[];
  /** Requests per minute; null or absent means unlimited. */
  rateLimit?: number | null;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  createdAt?: string;
  [extra: string]: unknown;
}

/** The answer to createWebhook: the only time the signing `secret` is shown. */
export interface CreatedWebhook extends Webhook {
  secret: string;
}

export interface CreateWebhookInput {
  url: string;
  /** Event names such as "request.decided", or "*" for all. */
  events: string[];
  /** Signing secret; the server generates one when omitted. */
  secret?: string;
  enabled?: boolean;
}

/** One entry of the audit trail. */
export interface AuditEvent {
  id: string;
  requestId: string | null;
  /** created, approved, denied, expired, key.created, policy.updated, ... */
  eventType: string;
  actor: string;
  actorId: string;
  actorType: string;
  details: Record<string, unknown>;
  createdAt: string;
  seq?: number;
  hash?: string;
  request?: { id: string; action: string; status: RequestStatus; urgency: Urgency };
}

export interface ListAuditOptions {
  requestId?: string;
  eventType?: string;
  actor?: string;
  action?: string;
  status?: RequestStatus;
  from?: Date | string;
  to?: Date | string;
  limit?: number;
  offset?: number;
  signal?: AbortSignal;
}
