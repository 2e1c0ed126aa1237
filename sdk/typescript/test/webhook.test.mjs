// verifyWebhook against the vectors shared with the Python SDK.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { DEFAULT_WEBHOOK_TOLERANCE_MS, signWebhook, verifyWebhook, verifyWebhookTimestamp } from "@agentgate/sdk";

const { vectors, timestamps } = JSON.parse(readFileSync(new URL("../../testdata/webhook_vectors.json", import.meta.url), "utf8"));

test("there are valid and invalid vectors", () => {
  assert.ok(vectors.filter((v) => v.valid).length >= 5);
  assert.ok(vectors.filter((v) => !v.valid).length >= 5);
});

for (const v of vectors) {
  test(`vector: ${v.name}`, () => {
    assert.equal(verifyWebhook(v.secret, v.header, v.body), v.valid, "string body");
    assert.equal(verifyWebhook(v.secret, v.header, Buffer.from(v.body, "utf8")), v.valid, "Buffer body");
    assert.equal(verifyWebhook(Buffer.from(v.secret, "utf8"), v.header, new Uint8Array(Buffer.from(v.body, "utf8"))), v.valid, "bytes");
  });
}

test("a missing header, or Node's string[] header form", () => {
  const v = vectors.find((x) => x.valid && x.secret !== "Jefe");
  assert.equal(verifyWebhook(v.secret, undefined, v.body), false);
  assert.equal(verifyWebhook(v.secret, null, v.body), false);
  assert.equal(verifyWebhook(v.secret, [v.header], v.body), true);
  assert.equal(verifyWebhook(v.secret, ["sha256=" + "0".repeat(64), v.header], v.body), true);
  assert.equal(verifyWebhook(v.secret, [], v.body), false);
});

for (const c of timestamps.cases) {
  test(`timestamp: ${c.name}`, () => {
    const now = new Date(timestamps.now * 1000);
    assert.equal(verifyWebhookTimestamp(c.header, c.toleranceMs, now), c.valid);
  });
}

test("timestamp: the default tolerance and a missing header", () => {
  assert.equal(DEFAULT_WEBHOOK_TOLERANCE_MS, 300_000);
  assert.equal(verifyWebhookTimestamp(String(Math.floor(Date.now() / 1000))), true);
  assert.equal(verifyWebhookTimestamp(undefined), false);
});

test("signWebhook produces what verifyWebhook accepts", () => {
  const body = JSON.stringify({ event: "test", data: { message: "hi" }, timestamp: 1 });
  const header = signWebhook("s3cret-s3cret-s3cret-s3cret-s3cret", body);
  assert.match(header, /^sha256=[0-9a-f]{64}$/);
  assert.equal(verifyWebhook("s3cret-s3cret-s3cret-s3cret-s3cret", header, body), true);
  assert.equal(verifyWebhook("s3cret-s3cret-s3cret-s3cret-s3cret", header, body + " "), false);
});
