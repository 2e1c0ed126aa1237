import type { ApprovalRequest } from "./types.js";

/**
 * The params an agent must act on: the approver's edited params
 * (`approvedParams`) when there are any, else the params it asked with.
 * As the Go SDK's `Request.ActionParams()`.
 */
export function actionParams(request: Pick<ApprovalRequest, "params" | "approvedParams">): Record<string, unknown> {
  return request.approvedParams ?? request.params ?? {};
}

/**
 * Whether an approver changed the params: `approvedParams` is present and
 * differs (as JSON, key order aside) from the params the agent asked with.
 */
export function paramsEdited(request: Pick<ApprovalRequest, "params" | "approvedParams">): boolean {
  return request.approvedParams != null && !jsonEqual(request.approvedParams, request.params ?? {});
}

/** Deep equality of JSON values; object key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/** A plain JSON object: not null, not an array. */
export function isJSONObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
