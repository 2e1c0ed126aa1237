import type { ApprovalRequest } from "./types.js";

/**
 * What went wrong, independent of the class: lets callers `switch` without
 * `instanceof` (which breaks across duplicated copies of the package).
 */
export type ErrorCode =
  | "bad_request" // 400, 413, 415, 422: the call itself is wrong; do not retry
  | "unauthorized" // 401: no key, unknown or revoked key
  | "forbidden" // 403: the key lacks a scope, or the creator tried to decide
  | "not_found" // 404
  | "conflict" // 409: e.g. the request is already decided
  | "rate_limited" // 429
  | "server" // 5xx
  | "network" // no HTTP answer: connection refused or dropped, DNS, per-attempt timeout
  | "timeout" // waitForDecision gave up before a decision
  | "unexpected"; // an answer the SDK cannot read (not JSON, wrong shape)

/**
 * Every failure of an AgentGate call. `message` is the server's own
 * `{"error": "..."}` text when it sent one.
 */
export class AgentGateError extends Error {
  /** HTTP status, or 0 when no HTTP answer arrived. */
  readonly status: number;
  readonly code: ErrorCode;
  /**
   * The HTTP request id (`X-Request-Id`) of the failing call: the server
   * logs it, so it finds the matching log line. The SDK sets it itself, so
   * it is present even when the server never answered.
   */
  readonly requestId: string | undefined;
  /** For 429 and 503: how long the server asked us to wait, in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    init: { status?: number; code?: ErrorCode; requestId?: string; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "AgentGateError";
    this.status = init.status ?? 0;
    this.code = init.code ?? codeForStatus(this.status);
    this.requestId = init.requestId;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** The upstream SDK's name for `status`. */
  get statusCode(): number {
    return this.status;
  }
}

/** 400, 413, 415, 422: the input was rejected. */
export class BadRequestError extends AgentGateError {
  override name = "BadRequestError";
}
/** 401: missing, unknown or revoked API key. Never a connectivity problem. */
export class UnauthorizedError extends AgentGateError {
  override name = "UnauthorizedError";
}
/** 403: the key lacks the scope, or the caller may not do this (e.g. decide its own request). */
export class ForbiddenError extends AgentGateError {
  override name = "ForbiddenError";
}
/** 404: unknown request, policy, key or webhook. */
export class NotFoundError extends AgentGateError {
  override name = "NotFoundError";
}
/** 409: e.g. deciding a request that is no longer pending. */
export class ConflictError extends AgentGateError {
  override name = "ConflictError";
}
/** 429, after the retries ran out. `retryAfterMs` says how long to wait. */
export class RateLimitedError extends AgentGateError {
  override name = "RateLimitedError";
}
/** 5xx, after the retries ran out (for the ones that are retried). */
export class ServerError extends AgentGateError {
  override name = "ServerError";
}
/** No HTTP answer at all, after the retries ran out. */
export class NetworkError extends AgentGateError {
  override name = "NetworkError";
}

/**
 * waitForDecision reached its `timeoutMs` while the request was still
 * pending. Status 408 and `code` "timeout", as in the upstream SDK's
 * TimeoutError. The request stays pending on the server.
 */
export class WaitTimeoutError extends AgentGateError {
  override name = "WaitTimeoutError";
  /** The last state seen (pending), when one was read. */
  readonly request: ApprovalRequest | undefined;
  constructor(message: string, request: ApprovalRequest | undefined) {
    super(message, { status: 408, code: "timeout" });
    this.request = request;
  }
}

/**
 * Thrown by withApproval when the request ended denied or expired: the
 * guarded function did not run. It is not an AgentGateError: the call
 * worked; the answer was no.
 */
export class ApprovalDeniedError extends Error {
  override name = "ApprovalDeniedError";
  readonly request: ApprovalRequest;
  /** "denied" or "expired". */
  readonly status: ApprovalRequest["status"];
  /** The decider's reason, when one was given. */
  readonly reason: string | null;
  constructor(request: ApprovalRequest) {
    const why = request.decisionReason ? `: ${request.decisionReason}` : "";
    super(`AgentGate request ${request.id} (${request.action}) was ${request.status}${why}`);
    this.request = request;
    this.status = request.status;
    this.reason = request.decisionReason ?? null;
  }
}

/**
 * Thrown by withApproval when an approver edited the params before
 * approving and the guarded function declares no parameter, so it cannot
 * be acting on the approved params (`receipt.params`): running it would
 * act on what the agent asked for, not on what was approved. The function
 * did not run. Declare the receipt parameter and act on `receipt.params`.
 * Not an AgentGateError: the call worked.
 */
export class ApprovalEditedError extends Error {
  override name = "ApprovalEditedError";
  readonly request: ApprovalRequest;
  /** The params the agent asked with. */
  readonly requestedParams: Record<string, unknown>;
  /** The params the approver approved. */
  readonly approvedParams: Record<string, unknown>;
  constructor(request: ApprovalRequest, message?: string) {
    super(
      message ??
        `AgentGate request ${request.id} (${request.action}) was approved with edited params, and the guarded function takes no receipt to act on them: it was not run`,
    );
    this.request = request;
    this.requestedParams = request.params;
    this.approvedParams = request.approvedParams ?? request.params;
  }
}

export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 0:
      return "network";
    case 400:
    case 413:
    case 415:
    case 422:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 408:
      return "timeout";
    case 409:
      return "conflict";
    case 429:
      return "rate_limited";
  }
  return status >= 500 ? "server" : "unexpected";
}

/** Builds the error class that matches an HTTP status. */
export function errorForStatus(
  status: number,
  message: string,
  init: { requestId?: string; retryAfterMs?: number } = {},
): AgentGateError {
  const full = { ...init, status };
  switch (codeForStatus(status)) {
    case "bad_request":
      return new BadRequestError(message, full);
    case "unauthorized":
      return new UnauthorizedError(message, full);
    case "forbidden":
      return new ForbiddenError(message, full);
    case "not_found":
      return new NotFoundError(message, full);
    case "conflict":
      return new ConflictError(message, full);
    case "rate_limited":
      return new RateLimitedError(message, full);
    case "server":
      return new ServerError(message, full);
    default:
      return new AgentGateError(message, full);
  }
}
