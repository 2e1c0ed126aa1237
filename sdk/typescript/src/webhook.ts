import { createHmac, timingSafeEqual } from "node:crypto";

/** The header that carries the signature. */
export const SIGNATURE_HEADER = "X-AgentGate-Signature";
/** The header that carries the delivery time in Unix seconds. */
export const TIMESTAMP_HEADER = "X-AgentGate-Timestamp";
/** The clock skew verifyWebhookTimestamp allows by default: 5 minutes. */
export const DEFAULT_WEBHOOK_TOLERANCE_MS = 5 * 60_000;

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/**
 * Checks the `X-AgentGate-Signature` header of a webhook delivery: the
 * hex HMAC-SHA256 of the raw request body under the webhook's secret, as
 * `sha256=<hex>` or bare `<hex>` (the upstream's form). During a secret
 * rotation the header may list several signatures separated by commas;
 * one match is enough.
 *
 * Pass the body exactly as received (a Buffer or the undecoded string):
 * re-serialising parsed JSON changes the bytes and the check fails.
 * Returns false, never throws, for a missing or malformed header or an
 * empty secret; the comparison takes the same time wherever the
 * signatures differ (crypto.timingSafeEqual).
 */
export function verifyWebhook(
  secret: string | Uint8Array,
  signatureHeader: string | string[] | null | undefined,
  rawBody: string | Uint8Array,
): boolean {
  if (typeof secret === "string" ? secret.length === 0 : secret.byteLength === 0) {
    // An empty secret would make every forger's job trivial: refuse.
    return false;
  }
  const header = Array.isArray(signatureHeader) ? signatureHeader.join(",") : signatureHeader;
  if (typeof header !== "string") {
    return false;
  }
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  let ok = false;
  for (const part of header.split(",")) {
    let hex = part.trim();
    if (hex.length > 7 && hex.slice(0, 7).toLowerCase() === "sha256=") {
      hex = hex.slice(7);
    }
    if (!HEX_SHA256.test(hex)) {
      continue;
    }
    // No early exit: every listed signature is compared.
    ok = timingSafeEqual(Buffer.from(hex, "hex"), expected) || ok;
  }
  return ok;
}

/**
 * Checks the `X-AgentGate-Timestamp` header (Unix seconds) is within
 * toleranceMs of now, in either direction, to limit replays of old
 * deliveries. Use it together with verifyWebhook. Returns false for a
 * missing or malformed value.
 */
export function verifyWebhookTimestamp(
  timestampHeader: string | string[] | null | undefined,
  toleranceMs: number = DEFAULT_WEBHOOK_TOLERANCE_MS,
  now: Date = new Date(),
): boolean {
  const v = Array.isArray(timestampHeader) ? timestampHeader[0] : timestampHeader;
  if (typeof v !== "string" || !/^\s*-?\d+\s*$/.test(v)) {
    return false;
  }
  const sentMs = Number(v.trim()) * 1000;
  const tol = toleranceMs > 0 ? toleranceMs : DEFAULT_WEBHOOK_TOLERANCE_MS;
  return Number.isFinite(sentMs) && Math.abs(now.getTime() - sentMs) <= tol;
}

/** The `sha256=<hex>` signature of body under secret (for tests and senders). */
export function signWebhook(secret: string | Uint8Array, rawBody: string | Uint8Array): string {
  return "sha256=" + createHmac("sha256", secret).update(rawBody).digest("hex");
}
