import { randomBytes, randomUUID } from "node:crypto";

import {
  AgentGateError,
  ApprovalDeniedError,
  ApprovalEditedError,
  BadRequestError,
  ConflictError,
  NetworkError,
  NotFoundError,
  WaitTimeoutError,
  errorForStatus,
} from "./errors.js";
import { actionParams, isJSONObject, paramsEdited } from "./params.js";
import type {
  ApiKey,
  ApprovalReceipt,
  ApprovalRequest,
  BatchResult,
  AuditEvent,
  CreateApiKeyInput,
  CreatedApiKey,
  CreatedWebhook,
  CreateRequestInput,
  CreateWebhookInput,
  DecideBatchInput,
  DecideInput,
  DryRunInput,
  DryRunResult,
  Grant,
  GrantInput,
  Group,
  ListGrantsOptions,
  ListAuditOptions,
  ListRequestsOptions,
  Pagination,
  Policy,
  PolicyInput,
  RequestPage,
  WaitOptions,
  Webhook,
} from "./types.js";

/** The SDK's version, sent in the User-Agent header. */
export const VERSION = "0.1.0";

export interface ClientOptions {
  /** Server URL, e.g. "http://localhost:3000". Default: $AGENTGATE_URL. */
  baseUrl?: string;
  /** API key ("agk_..."). Default: $AGENTGATE_API_KEY. */
  apiKey?: string;
  /** Per-attempt timeout of ordinary calls in ms (long-polls get their own). Default 30000. */
  timeoutMs?: number;
  /** Retries after the first attempt for retryable failures. Default 3; 0 disables. */
  maxRetries?: number;
  /** First backoff delay in ms; it doubles per retry, with jitter. Default 500. */
  retryDelayMs?: number;
  /** Upper bound of one backoff delay, and of an honoured Retry-After, in ms. Default 30000. */
  maxRetryDelayMs?: number;
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
}

/**
 * How a call may be retried (as the Go SDK does).
 * - "idempotent": repeating it cannot do harm (GET, PUT, DELETE, dry runs,
 *   creation with an Idempotency-Key, decide): retried on network errors,
 *   429, 502, 503 and 504, and 500 for GET, PUT and DELETE.
 * - "unsafe": a repeat could act twice (creating a policy, key or webhook;
 *   PATCH): retried only when the server cannot have acted on it: 429
 *   (refused before any work) and connection failures before anything was
 *   sent. A 502/503/504 may come from a proxy that passed the call on.
 */
type RetryClass = "idempotent" | "unsafe";

interface CallOptions {
  query?: Record<string, string | number | boolean | Date | undefined | null>;
  body?: unknown;
  headers?: Record<string, string>;
  retry: RetryClass;
  /** 0 disables retries for this call (the long-poll loop retries itself). */
  maxRetries?: number;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  /** Called before each retry: an earlier attempt may have reached the server. */
  onRetry?: () => void;
}

interface CallResult<T> {
  data: T;
  status: number;
  headers: Headers;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const IDEMPOTENT_METHODS = new Set(["GET", "PUT", "DELETE"]);
// Connection errors raised before a request left this machine: repeating
// the request cannot make the server act twice.
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Network errors raised before the request was sent (see NOT_SENT_CODES). */
const notSent = new WeakSet<NetworkError>();

/** The long-poll's first timeout; the server's default maximum is 60 s. */
const LONG_POLL_SECONDS = 30;

/**
 * Client of the AgentGate REST API.
 *
 * ```ts
 * const gate = new AgentGateClient({ baseUrl: "http://localhost:3000", apiKey: process.env.AGENTGATE_API_KEY });
 * const req = await gate.requestAndWait({ action: "send_email", params: { to: "bob@example.com" } });
 * if (req.status === "approved") sendEmail();
 * ```
 */
export class AgentGateClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #fetch: typeof fetch | undefined;

  constructor(options: ClientOptions = {}) {
    const env = typeof process !== "undefined" ? process.env : {};
    const baseUrl = options.baseUrl ?? env["AGENTGATE_URL"];
    const apiKey = options.apiKey ?? env["AGENTGATE_API_KEY"];
    if (!baseUrl) {
      throw new TypeError("AgentGateClient: baseUrl is required (or set AGENTGATE_URL)");
    }
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new TypeError(`AgentGateClient: baseUrl ${JSON.stringify(baseUrl)} is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError("AgentGateClient: baseUrl must be an http:// or https:// URL");
    }
    if (!apiKey) {
      throw new TypeError("AgentGateClient: apiKey is required (or set AGENTGATE_API_KEY)");
    }
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#apiKey = apiKey;
    this.#timeoutMs = nonNegative(options.timeoutMs, 30_000, "timeoutMs");
    this.#maxRetries = nonNegative(options.maxRetries, 3, "maxRetries");
    this.#retryDelayMs = nonNegative(options.retryDelayMs, 500, "retryDelayMs");
    this.#maxRetryDelayMs = nonNegative(options.maxRetryDelayMs, 30_000, "maxRetryDelayMs");
    this.#fetch = options.fetch;
  }

  // ---- approval requests ------------------------------------------------

  /**
   * Asks for approval: POST /api/requests. The answer may already be
   * decided (a policy auto-approved or auto-denied it); otherwise it is
   * pending and waitForDecision learns the outcome.
   *
   * Every call carries an Idempotency-Key (yours, or a fresh UUID) that
   * its retries reuse, so a retry after a dropped connection returns the
   * request the first attempt created instead of creating a second one.
   */
  async request(input: CreateRequestInput): Promise<ApprovalRequest> {
    if (!input || typeof input.action !== "string" || input.action.trim() === "") {
      throw new TypeError("request: action must be a non-empty string");
    }
    const body: Record<string, unknown> = { action: input.action };
    if (input.params !== undefined) body["params"] = input.params;
    if (input.context !== undefined) body["context"] = input.context;
    if (input.urgency !== undefined) body["urgency"] = input.urgency;
    if (input.expiresAt !== undefined) body["expiresAt"] = timeString(input.expiresAt);
    const res = await this.#call<ApprovalRequest>("POST", "/api/requests", {
      body,
      headers: { "Idempotency-Key": input.idempotencyKey ?? randomUUID() },
      retry: "idempotent",
      signal: input.signal,
    });
    return res.data;
  }

  /** GET /api/requests/{id}. */
  async getRequest(id: string, options: { signal?: AbortSignal } = {}): Promise<ApprovalRequest> {
    const res = await this.#call<ApprovalRequest>("GET", `/api/requests/${pathId(id)}`, {
      retry: "idempotent",
      signal: options.signal,
    });
    return res.data;
  }

  /**
   * One page of requests (GET /api/requests), newest first by default.
   * The result is an array with `.pagination` ({total, limit, offset, hasMore}).
   */
  async listRequests(options: ListRequestsOptions = {}): Promise<RequestPage> {
    const { signal, ...query } = options;
    const res = await this.#call<{ requests: ApprovalRequest[]; pagination: Pagination }>("GET", "/api/requests", {
      query,
      retry: "idempotent",
      signal,
    });
    return withPagination(res.data.requests, res.data.pagination);
  }

  /**
   * Every request matching the filter, page by page:
   * `for await (const r of gate.iterateRequests({status: "pending"})) ...`.
   * A request that moves between pages while iterating (new requests push
   * older ones down under the default newest-first order) is yielded once.
   * Use sort "created_at" (oldest first) for a stable walk.
   */
  async *iterateRequests(options: Omit<ListRequestsOptions, "offset"> = {}): AsyncGenerator<ApprovalRequest> {
    const seen = new Set<string>();
    let offset = 0;
    const limit = options.limit ?? 100;
    for (;;) {
      const page = await this.listRequests({ ...options, limit, offset });
      for (const r of page) {
        if (!seen.has(r.id)) {
          seen.add(r.id);
          yield r;
        }
      }
      if (!page.pagination.hasMore || page.length === 0) {
        return;
      }
      offset += page.length;
    }
  }

  /**
   * Waits until request id is decided or expired and returns it.
   *
   * It long-polls GET /api/requests/{id}/wait in a loop, so it answers
   * within milliseconds of the decision. Dropped connections, 429 and
   * 502/503/504 are retried with backoff for as long as the wait lasts.
   * Against a server without the long-poll route it polls GET
   * /api/requests/{id} every pollIntervalMs.
   *
   * With no timeoutMs it waits until the server decides or expires the
   * request; with one it throws WaitTimeoutError (the request stays
   * pending). 401, 403 and 404 are thrown at once.
   */
  async waitForDecision(id: string, options: WaitOptions = {}): Promise<ApprovalRequest> {
    const path = `/api/requests/${pathId(id)}`;
    const timeoutMs = options.timeoutMs ?? options.timeout;
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + nonNegative(timeoutMs, 0, "timeoutMs");
    const pollMs = nonNegative(options.pollIntervalMs ?? options.pollInterval, 2000, "pollIntervalMs");
    const signal = options.signal;
    let longPoll = true;
    let chunkMs = LONG_POLL_SECONDS * 1000;
    let failures = 0;
    let last: ApprovalRequest | undefined;
    for (let asked = false; ; asked = true) {
      signal?.throwIfAborted();
      const remaining = deadline - Date.now();
      if (remaining <= 0 && asked) {
        throw new WaitTimeoutError(`AgentGate request ${id} is still pending after ${timeoutMs} ms`, last);
      }
      try {
        if (longPoll) {
          const ms = Math.max(1, Math.min(chunkMs, remaining));
          const res = await this.#call<ApprovalRequest>("GET", `${path}/wait`, {
            query: { timeout: `${Math.ceil(ms)}ms` },
            retry: "idempotent",
            maxRetries: 0,
            timeoutMs: ms + 15_000,
            signal,
          });
          last = res.data;
        } else {
          last = (await this.#call<ApprovalRequest>("GET", path, { retry: "idempotent", maxRetries: 0, signal })).data;
        }
        failures = 0;
        if (last.status !== "pending") {
          return last;
        }
        if (!longPoll) {
          await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), signal);
        }
      } catch (err) {
        if (signal?.aborted) {
          throw signal.reason;
        }
        if (longPoll && err instanceof NotFoundError && !/request not found/i.test(err.message)) {
          // The server has no long-poll route (an upstream server answers
          // "Route GET ... not found" or its own 404): poll instead. An
          // unknown request still fails, on the GET.
          longPoll = false;
          continue;
        }
        if (longPoll && err instanceof BadRequestError) {
          // The server caps long-polls below ours: adopt its cap, or poll
          // when its answer cannot be read.
          const cap = maxWaitOf(err.message);
          if (cap > 0 && cap < chunkMs) chunkMs = cap;
          else longPoll = false;
          continue;
        }
        // Dropped connections, 429 and any 5xx (a restarting server, a
        // proxy's gateway error) are retried for as long as the wait lasts.
        if (!(err instanceof NetworkError || (err instanceof AgentGateError && (err.status === 429 || err.status >= 500)))) {
          throw err;
        }
        failures++;
        const delay = this.#backoff(failures, err);
        await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), signal);
      }
    }
  }

  /**
   * request() and then, if the answer is pending, waitForDecision(). Returns
   * the final request: approved, denied or expired. It does not throw for
   * a denial; check `status`.
   */
  async requestAndWait(input: CreateRequestInput & WaitOptions): Promise<ApprovalRequest> {
    const req = await this.request(input);
    if (req.status !== "pending") {
      return req;
    }
    return this.waitForDecision(req.id, input);
  }

  /**
   * Runs fn only once action is approved and returns its result. Throws
   * ApprovalDeniedError (with the request) when it is denied or expires,
   * WaitTimeoutError when timeoutMs passes first, and any AgentGateError
   * when the server cannot be asked: fn never runs without an approval.
   *
   * fn receives a receipt: the approved request whose `params` are the
   * params to act on (`actionParams(request)`: the approver's edit, if
   * any), with `requestedParams` (what was asked) and `edited`. When an
   * approver edited the params and fn declares no parameter (`fn.length`
   * is 0, so it cannot be reading them), fn does not run:
   * ApprovalEditedError.
   */
  async withApproval<T>(
    action: string,
    fn: (receipt: ApprovalReceipt) => T | Promise<T>,
    options: Omit<CreateRequestInput, "action"> & WaitOptions = {},
  ): Promise<T> {
    const req = await this.requestAndWait({ ...options, action });
    if (req.status !== "approved") {
      throw new ApprovalDeniedError(req);
    }
    const edited = paramsEdited(req);
    if (edited && fn.length === 0) {
      // fn closes over the values it was written with: running it would
      // act on the request as asked, not as approved. Fail closed.
      throw new ApprovalEditedError(req);
    }
    return await fn({ ...req, params: actionParams(req), requestedParams: req.params ?? {}, edited });
  }

  /**
   * Approves or denies a pending request: POST /api/requests/{id}/decide.
   * The key needs the request:decide scope and may not be the key that
   * created the request (403). A request that is no longer pending gives
   * ConflictError, except when this call's own earlier attempt made the
   * decision before its answer was lost (the recorded decision is this
   * key's, with the same outcome): then the request is returned.
   *
   * With an approval, `params` replaces the agent's params (the agent
   * receives them as `approvedParams`; an edit the policies would deny is a
   * 422 BadRequestError) and `grant` also approves the same agent's next
   * requests for the same action for a while. A request that needs several
   * approvals (a quorum) stays pending until the last one; its
   * `approvals.received` counts them.
   */
  async decide(id: string, input: DecideInput): Promise<ApprovalRequest> {
    if (!input || (input.decision !== "approved" && input.decision !== "denied")) {
      throw new TypeError('decide: decision must be "approved" or "denied"');
    }
    const body: Record<string, unknown> = { decision: input.decision };
    if (input.reason !== undefined) body["reason"] = input.reason;
    if (input.decidedBy !== undefined) body["decidedBy"] = input.decidedBy;
    if (input.params !== undefined) {
      if (!isJSONObject(input.params)) {
        throw new TypeError("decide: params must be an object (the edited params)");
      }
      body["params"] = input.params;
    }
    if (input.grant !== undefined) body["grant"] = grantBody(input.grant);
    const path = `/api/requests/${pathId(id)}/decide`;
    let retried = false;
    try {
      const res = await this.#call<ApprovalRequest>("POST", path, {
        body,
        retry: "idempotent",
        signal: input.signal,
        onRetry: () => {
          retried = true;
        },
      });
      return res.data;
    } catch (err) {
      if (retried && err instanceof ConflictError) {
        // An earlier attempt may have won with its answer lost: it did when
        // the recorded decision is this key's, with the same outcome.
        const mine = await this.#reconcileDecision(id, input.decision).catch(() => undefined);
        if (mine) return mine;
      }
      throw err;
    }
  }

  /**
   * Decides many requests at once: POST /api/requests/decide-batch. Each
   * is decided and audited on its own and may fail on its own: the answer
   * has one result per id ({id, ok, status, error?, request?}), in order.
   * Edited params and grants are not allowed in a batch. Safe to retry: a
   * decision already recorded comes back as a 409 result.
   */
  async decideBatch(ids: string[], input: DecideBatchInput): Promise<BatchResult[]> {
    if (!Array.isArray(ids) || ids.length === 0 || ids.some((id) => typeof id !== "string" || id === "")) {
      throw new TypeError("decideBatch: ids must be a non-empty array of request ids");
    }
    if (!input || (input.decision !== "approved" && input.decision !== "denied")) {
      throw new TypeError('decideBatch: decision must be "approved" or "denied"');
    }
    const extra = input as { params?: unknown; grant?: unknown };
    if (extra.params !== undefined || extra.grant !== undefined) {
      throw new TypeError("decideBatch: a batch decision cannot edit params or create grants; use decide()");
    }
    const body: Record<string, unknown> = { ids, decision: input.decision };
    if (input.reason !== undefined) body["reason"] = input.reason;
    if (input.decidedBy !== undefined) body["decidedBy"] = input.decidedBy;
    const res = await this.#call<{ results: BatchResult[] }>("POST", "/api/requests/decide-batch", {
      body,
      retry: "idempotent",
      signal: input.signal,
    });
    return res.data.results;
  }

  async #reconcileDecision(id: string, outcome: "approved" | "denied"): Promise<ApprovalRequest | undefined> {
    const me = await this.whoami();
    const r = await this.getRequest(id);
    return r.status === outcome && r.decidedByType === "human" && r.decidedById === me.id ? r : undefined;
  }

  // ---- grants and groups -------------------------------------------------

  /**
   * Grants, newest first (GET /api/grants; request:read). An array with
   * `.pagination`. `activeOnly` leaves out revoked, expired and used-up ones.
   */
  async listGrants(options: ListGrantsOptions = {}): Promise<Grant[] & { pagination: Pagination }> {
    const { signal, activeOnly, ...rest } = options;
    const res = await this.#call<{ grants: Grant[]; pagination: Pagination }>("GET", "/api/grants", {
      query: { ...rest, active: activeOnly ? "true" : undefined },
      retry: "idempotent",
      signal,
    });
    return withPagination(res.data.grants, res.data.pagination);
  }

  /** Ends a grant at once (DELETE /api/grants/{id}; request:decide). Revoking twice is not an error. */
  async revokeGrant(id: string): Promise<Grant> {
    return (await this.#call<Grant>("DELETE", `/api/grants/${pathId(id)}`, { retry: "idempotent" })).data;
  }

  /** The approver groups (GET /api/groups; admin). */
  async listGroups(): Promise<Group[]> {
    return (await this.#call<{ groups: Group[] }>("GET", "/api/groups", { retry: "idempotent" })).data.groups;
  }

  /** GET /api/groups/{name} (admin). */
  async getGroup(name: string): Promise<Group> {
    return (await this.#call<Group>("GET", `/api/groups/${pathId(name)}`, { retry: "idempotent" })).data;
  }

  /**
   * Creates or replaces a group (PUT /api/groups/{name}; admin). Rules name
   * it as "group:NAME" in approvers and quorums. Members are identities:
   * key names or ids, "slack:U…", "email:…".
   */
  async saveGroup(name: string, members: string[]): Promise<Group> {
    if (!Array.isArray(members) || members.some((m) => typeof m !== "string")) {
      throw new TypeError("saveGroup: members must be an array of strings");
    }
    return (await this.#call<Group>("PUT", `/api/groups/${pathId(name)}`, { body: { members }, retry: "idempotent" })).data;
  }

  /** DELETE /api/groups/{name} (admin). An unknown group is a NotFoundError. */
  async deleteGroup(name: string): Promise<void> {
    await this.#delete(`/api/groups/${pathId(name)}`);
  }

  // ---- audit --------------------------------------------------------------

  /** The audit trail of one request, oldest first: GET /api/requests/{id}/audit. */
  async getRequestAudit(id: string): Promise<AuditEvent[]> {
    return (await this.#call<AuditEvent[]>("GET", `/api/requests/${pathId(id)}/audit`, { retry: "idempotent" })).data;
  }

  /** One page of the audit trail (GET /api/audit): an array with `.pagination`. */
  async listAuditLogs(options: ListAuditOptions = {}): Promise<AuditEvent[] & { pagination: Pagination }> {
    const { signal, ...query } = options;
    const res = await this.#call<{ entries: AuditEvent[]; pagination: Pagination }>("GET", "/api/audit", {
      query,
      retry: "idempotent",
      signal,
    });
    return withPagination(res.data.entries, res.data.pagination);
  }

  // ---- policies ---------------------------------------------------------

  /** GET /api/policies (admin). An array with `.pagination`. */
  async listPolicies(options: { limit?: number; offset?: number; signal?: AbortSignal } = {}): Promise<Policy[] & { pagination: Pagination }> {
    const { signal, ...query } = options;
    const res = await this.#call<{ policies: Policy[]; pagination: Pagination }>("GET", "/api/policies", {
      query,
      retry: "idempotent",
      signal,
    });
    return withPagination(res.data.policies, res.data.pagination);
  }

  /** GET /api/policies/{id}. */
  async getPolicy(id: string): Promise<Policy> {
    return (await this.#call<Policy>("GET", `/api/policies/${pathId(id)}`, { retry: "idempotent" })).data;
  }

  /** POST /api/policies. Defaults: priority 100, enabled, global scope. */
  async createPolicy(input: PolicyInput): Promise<Policy> {
    return (await this.#call<Policy>("POST", "/api/policies", { body: input, retry: "unsafe" })).data;
  }

  /** PUT /api/policies/{id}: replaces the whole policy (as the upstream SDK did). */
  async updatePolicy(id: string, input: PolicyInput): Promise<Policy> {
    return (await this.#call<Policy>("PUT", `/api/policies/${pathId(id)}`, { body: input, retry: "idempotent" })).data;
  }

  /** PATCH /api/policies/{id}: changes only the given fields. */
  async patchPolicy(id: string, patch: Partial<PolicyInput>): Promise<Policy> {
    return (await this.#call<Policy>("PATCH", `/api/policies/${pathId(id)}`, { body: patch, retry: "unsafe" })).data;
  }

  /** DELETE /api/policies/{id}. */
  async deletePolicy(id: string): Promise<void> {
    await this.#delete(`/api/policies/${pathId(id)}`);
  }

  /**
   * What the policies would decide for a request, without creating it:
   * POST /api/policies/dry-run, or /api/policies/{policyId}/dry-run to try
   * one policy (even a disabled one).
   */
  async dryRun(input: DryRunInput, options: { policyId?: string } = {}): Promise<DryRunResult> {
    const path = options.policyId === undefined ? "/api/policies/dry-run" : `/api/policies/${pathId(options.policyId)}/dry-run`;
    return (await this.#call<DryRunResult>("POST", path, { body: input, retry: "idempotent" })).data;
  }

  // ---- webhooks ---------------------------------------------------------

  /** GET /api/webhooks. */
  async listWebhooks(): Promise<Webhook[]> {
    const res = await this.#call<{ webhooks: Webhook[] } | Webhook[]>("GET", "/api/webhooks", { retry: "idempotent" });
    return Array.isArray(res.data) ? res.data : res.data.webhooks;
  }

  /** POST /api/webhooks. The answer holds the signing secret, shown only this once. */
  async createWebhook(input: CreateWebhookInput): Promise<CreatedWebhook> {
    return (await this.#call<CreatedWebhook>("POST", "/api/webhooks", { body: input, retry: "unsafe" })).data;
  }

  /** DELETE /api/webhooks/{id}. */
  async deleteWebhook(id: string): Promise<void> {
    await this.#delete(`/api/webhooks/${pathId(id)}`);
  }

  // ---- API keys ---------------------------------------------------------

  /** POST /api/keys (admin). The answer's `key` is the secret, shown only this once. */
  async createApiKey(input: CreateApiKeyInput): Promise<CreatedApiKey> {
    return (await this.#call<CreatedApiKey>("POST", "/api/keys", { body: input, retry: "unsafe" })).data;
  }

  /** GET /api/keys (admin). Never includes secrets. */
  async listApiKeys(): Promise<ApiKey[]> {
    return (await this.#call<{ keys: ApiKey[] }>("GET", "/api/keys", { retry: "idempotent" })).data.keys;
  }

  /** DELETE /api/keys/{id}: revokes the key at once. Revoking twice is not an error. */
  async revokeApiKey(id: string): Promise<void> {
    await this.#delete(`/api/keys/${pathId(id)}`);
  }

  /** GET /api/me: the calling key's id, name and scopes. */
  async whoami(): Promise<{ id: string; name: string; scopes: string[]; rateLimit: number | null; via: string }> {
    return (await this.#call<{ id: string; name: string; scopes: string[]; rateLimit: number | null; via: string }>("GET", "/api/me", { retry: "idempotent" })).data;
  }

  // ---- transport --------------------------------------------------------

  /** DELETE that treats a 404 after a retry as done: the lost first attempt deleted it. */
  async #delete(path: string): Promise<void> {
    let retried = false;
    try {
      await this.#call<unknown>("DELETE", path, {
        retry: "idempotent",
        onRetry: () => {
          retried = true;
        },
      });
    } catch (err) {
      if (!(retried && err instanceof NotFoundError)) {
        throw err;
      }
    }
  }

  async #call<T>(method: string, path: string, opts: CallOptions): Promise<CallResult<T>> {
    const url = this.#url(path, opts.query);
    const maxRetries = opts.maxRetries ?? this.#maxRetries;
    // One id for the call and all its retries: the server logs it, and the
    // error carries it even when no answer came.
    const httpRequestId = randomBytes(12).toString("hex");
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#apiKey}`,
      Accept: "application/json",
      "User-Agent": `agentgate-sdk-typescript/${VERSION}`,
      "X-Request-Id": httpRequestId,
      ...opts.headers,
    };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#attempt<T>(method, url, headers, body, httpRequestId, opts);
      } catch (err) {
        if (opts.signal?.aborted || attempt >= maxRetries || !isRetryable(err, opts.retry, method)) {
          throw err;
        }
        const delay = this.#backoff(attempt + 1, err);
        if (err instanceof AgentGateError && err.retryAfterMs !== undefined && err.retryAfterMs > this.#maxRetryDelayMs) {
          throw err; // the server asks for longer than we are willing to block
        }
        await sleep(delay, opts.signal);
        opts.onRetry?.();
      }
    }
  }

  async #attempt<T>(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    requestId: string,
    opts: CallOptions,
  ): Promise<CallResult<T>> {
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const link = linkSignal(opts.signal, timeoutMs);
    const doFetch = this.#fetch ?? globalThis.fetch;
    try {
      let res: Response;
      try {
        // Redirects are not followed: a POST would lose its body, and the
        // API key must not travel to wherever a redirect points.
        const init: RequestInit = { method, headers, signal: link.signal, redirect: "manual" };
        if (body !== undefined) init.body = body;
        res = await doFetch(url, init);
      } catch (err) {
        throw this.#networkError(err, link, requestId, method, url, false);
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw this.#networkError(err, link, requestId, method, url, true);
      }
      const serverRequestId = res.headers.get("x-request-id") ?? requestId;
      if (res.status >= 300 && res.status < 400) {
        throw new AgentGateError(
          `${method} ${url} was redirected (HTTP ${res.status}) to ${res.headers.get("location") ?? "an unknown location"}: set baseUrl to the server's real address (redirects are not followed)`,
          { status: res.status, code: "unexpected", requestId: serverRequestId },
        );
      }
      if (!res.ok) {
        throw errorForStatus(res.status, errorMessage(res, text), {
          requestId: serverRequestId,
          ...retryAfter(res.headers),
        });
      }
      let data: unknown = undefined;
      if (text !== "") {
        try {
          data = JSON.parse(text);
        } catch (err) {
          throw new AgentGateError(`${method} ${url}: the answer is not JSON (HTTP ${res.status})`, {
            status: res.status,
            code: "unexpected",
            requestId: serverRequestId,
            cause: err,
          });
        }
      }
      return { data: data as T, status: res.status, headers: res.headers };
    } finally {
      link.dispose();
    }
  }

  #networkError(err: unknown, link: LinkedSignal, requestId: string, method: string, url: string, sent: boolean): unknown {
    if (link.userAborted()) {
      return link.signal.reason;
    }
    if (link.timedOut()) {
      return new NetworkError(`${method} ${url}: no answer within the timeout`, { requestId, cause: err });
    }
    const code = errorCode(err);
    const e = new NetworkError(`${method} ${url}: ${describe(err)}`, { requestId, cause: err });
    if (!sent && code !== undefined && NOT_SENT_CODES.has(code)) {
      notSent.add(e);
    }
    return e;
  }

  #backoff(retry: number, err: unknown): number {
    if (err instanceof AgentGateError && err.retryAfterMs !== undefined) {
      return Math.min(err.retryAfterMs, this.#maxRetryDelayMs);
    }
    const ceiling = Math.min(this.#maxRetryDelayMs, this.#retryDelayMs * 2 ** (retry - 1));
    // "Equal jitter": half fixed, half random, so that many clients failing
    // together do not retry together.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  #url(path: string, query?: CallOptions["query"]): string {
    let url = this.baseUrl + path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v === undefined || v === null) continue;
        qs.set(k, v instanceof Date ? v.toISOString() : String(v));
      }
      const s = qs.toString();
      if (s) url += "?" + s;
    }
    return url;
  }
}

function isRetryable(err: unknown, cls: RetryClass, method: string): boolean {
  if (err instanceof NetworkError) {
    return cls === "idempotent" || notSent.has(err);
  }
  if (!(err instanceof AgentGateError)) {
    return false;
  }
  if (err.status === 429) {
    return true;
  }
  if (cls !== "idempotent") {
    return false;
  }
  return RETRYABLE_STATUS.has(err.status) || (err.status === 500 && IDEMPOTENT_METHODS.has(method));
}

/**
 * The server's long-poll maximum from its 400 answer "timeout must be
 * between 0s and 1m0s", in ms; 0 when the message says otherwise.
 */
export function maxWaitOf(message: string): number {
  const m = /^timeout must be between \S+ and (\S+)$/.exec(message.trim());
  return m ? parseGoDuration(m[1] ?? "") : 0;
}

/** Parses a Go duration such as "1m0s", "5s" or "1.5h" into ms; 0 when it is not one. */
export function parseGoDuration(s: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return 0;
    total += Number(m[1]) * (units[m[2] ?? ""] ?? 0);
    pos = re.lastIndex;
  }
  return total;
}

/** The server's `{"error": "..."}` text, or the best the body offers. */
function errorMessage(res: Response, text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === "object") {
      const b = body as Record<string, unknown>;
      if (typeof b["error"] === "string" && b["error"] !== "") return b["error"];
      if (typeof b["message"] === "string" && b["message"] !== "") return b["message"];
      const nested = b["error"] as Record<string, unknown> | undefined;
      if (nested && typeof nested === "object" && typeof nested["message"] === "string") return nested["message"];
    }
  } catch {
    // not JSON: fall through
  }
  const snippet = text.trim().slice(0, 200);
  return `HTTP ${res.status}${res.statusText ? " " + res.statusText : ""}${snippet ? ": " + snippet : ""}`;
}

function retryAfter(h: Headers): { retryAfterMs?: number } {
  const v = h.get("retry-after");
  if (!v) return {};
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return { retryAfterMs: secs * 1000 };
  const at = Date.parse(v);
  if (!Number.isNaN(at)) return { retryAfterMs: Math.max(0, at - Date.now()) };
  return {};
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const o = e as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof o.code === "string" && o.code !== "ABORT_ERR") return o.code;
    e = o.cause ?? (Array.isArray(o.errors) ? o.errors[0] : undefined);
  }
  return undefined;
}

function describe(err: unknown): string {
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return code ? `${msg} (${code})` : msg;
}

/** The wire form of a grant: its duration as a Go duration string. */
function grantBody(g: GrantInput): Record<string, unknown> {
  if (!isJSONObject(g)) {
    throw new TypeError("decide: grant must be an object {durationMs | duration, maxUses?, conditions?}");
  }
  let duration: string;
  if (g.durationMs !== undefined && g.duration !== undefined) {
    throw new TypeError("decide: give the grant's durationMs or its duration, not both");
  }
  if (g.durationMs !== undefined) {
    if (typeof g.durationMs !== "number" || !Number.isFinite(g.durationMs) || g.durationMs <= 0) {
      throw new TypeError("decide: grant.durationMs must be a positive number of milliseconds");
    }
    duration = g.durationMs % 1000 === 0 ? `${g.durationMs / 1000}s` : `${g.durationMs}ms`;
  } else if (g.duration !== undefined) {
    if (typeof g.duration !== "string" || parseGoDuration(g.duration.trim()) <= 0) {
      throw new TypeError('decide: grant.duration must be a Go duration such as "30m" or "1h"');
    }
    duration = g.duration.trim();
  } else {
    throw new TypeError("decide: a grant needs durationMs or duration");
  }
  const out: Record<string, unknown> = { duration };
  if (g.maxUses !== undefined) {
    if (typeof g.maxUses !== "number" || !Number.isSafeInteger(g.maxUses) || g.maxUses < 1) {
      throw new TypeError("decide: grant.maxUses must be a positive integer");
    }
    out["maxUses"] = g.maxUses;
  }
  if (g.conditions !== undefined) {
    if (!isJSONObject(g.conditions)) {
      throw new TypeError('decide: grant.conditions must be a match object, e.g. {"params.amount": {"$lte": 100}}');
    }
    out["conditions"] = g.conditions;
  }
  return out;
}

function withPagination<T>(items: T[], pagination: Pagination): T[] & { pagination: Pagination } {
  return Object.assign(items, { pagination });
}

function pathId(id: string): string {
  if (typeof id !== "string" || id === "") {
    throw new TypeError("id must be a non-empty string");
  }
  return encodeURIComponent(id);
}

function timeString(t: Date | string): string {
  return t instanceof Date ? t.toISOString() : t;
}

function nonNegative(v: number | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new TypeError(`${name} must be a non-negative number`);
  }
  return v;
}

interface LinkedSignal {
  signal: AbortSignal;
  timedOut(): boolean;
  userAborted(): boolean;
  dispose(): void;
}

/** An AbortSignal that fires on the caller's signal or after timeoutMs. */
function linkSignal(user: AbortSignal | undefined, timeoutMs: number): LinkedSignal {
  const ctrl = new AbortController();
  let timedOut = false;
  const onAbort = () => ctrl.abort(user?.reason);
  if (user?.aborted) {
    ctrl.abort(user.reason);
  } else {
    user?.addEventListener("abort", onAbort, { once: true });
  }
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          ctrl.abort(new DOMException("The operation timed out.", "TimeoutError"));
        }, timeoutMs)
      : undefined;
  return {
    signal: ctrl.signal,
    timedOut: () => timedOut,
    userAborted: () => user?.aborted === true,
    dispose: () => {
      clearTimeout(timer);
      user?.removeEventListener("abort", onAbort);
    },
  };
}

/** Waits ms, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
