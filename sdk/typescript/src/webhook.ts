import { createHmac, timingSafeEqual } from "node:crypto";

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/**
 * Checks the `X-AgentGate-Signature` header of a webhook delivery: the
 * hex HMAC-SHA256 of the raw request body under the webhook's secret, as
 * `sha256=<hex>` or bare `<hex>` (the upstream's form).
 *
 * Pass the body exactly as received (a Buffer or the undecoded string):
 * re-serialising parsed JSON changes the bytes and the check fails.
 * Returns false, never throws, for a missing or malformed header; the
 * comparison takes the same time wherever the signatures differ.
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
  const header = Array.isArray(signatureHeader) ? signatureHeader[0] : signatureHeader;
  if (typeof header !== "string") {
    return false;
  }
  let hex = header.trim();
  if (hex.slice(0, 7).toLowerCase() === "sha256=") {
    hex = hex.slice(7);
  }
  if (!HEX_SHA256.test(hex)) {
    return false;
  }
  const given = Buffer.from(hex, "hex");
  const expected = createHmac("sha256", secret).update(rawBody).digest();
  return timingSafeEqual(given, expected);
}

/** The `sha256=<hex>` signature of body under secret (for tests and senders). */
export function signWebhook(secret: string | Uint8Array, rawBody: string | Uint8Array): string {
  return "sha256=" + createHmac("sha256", secret).update(rawBody).digest("hex");
}
