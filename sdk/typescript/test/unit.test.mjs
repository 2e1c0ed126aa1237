// Client behaviour that needs no server: construction, and how answers
// that the AgentGate server never sends (proxies, other servers) are read.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AgentGateClient, AgentGateError, NetworkError, ServerError, actionParams, paramsEdited } from "@agentgate/sdk";

function stubFetch(answers) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    return new Response(next.body ?? "", { status: next.status, statusText: next.statusText, headers: next.headers });
  };
  return { fn, calls };
}

test("the constructor needs a URL and a key, and reads them from the environment", () => {
  assert.throws(() => new AgentGateClient({ baseUrl: "http://x" }), /apiKey is required/);
  assert.throws(() => new AgentGateClient({ apiKey: "k" }), /baseUrl is required/);
  assert.throws(() => new AgentGateClient({ baseUrl: "ftp://x", apiKey: "k" }), /http/);
  assert.throws(() => new AgentGateClient({ baseUrl: "not a url", apiKey: "k" }), /not a URL/);
  assert.throws(() => new AgentGateClient({ baseUrl: "http://x", apiKey: "k", maxRetries: -1 }), /maxRetries/);
  process.env.AGENTGATE_URL = "http://gate.internal:3000///";
  process.env.AGENTGATE_API_KEY = "agk_from_env";
  try {
    assert.equal(new AgentGateClient().baseUrl, "http://gate.internal:3000");
  } finally {
    delete process.env.AGENTGATE_URL;
    delete process.env.AGENTGATE_API_KEY;
  }
});

test("every call sends the key, JSON and an X-Request-Id; ids are escaped into the path", async () => {
  const { fn, calls } = stubFetch([{ status: 200, body: JSON.stringify({ id: "a/b", status: "pending" }) }]);
  const c = new AgentGateClient({ baseUrl: "http://gate/base/", apiKey: "agk_k", fetch: fn });
  await c.getRequest("a/b");
  assert.equal(calls[0].url, "http://gate/base/api/requests/a%2Fb");
  assert.equal(calls[0].init.headers.Authorization, "Bearer agk_k");
  assert.match(calls[0].init.headers["X-Request-Id"], /^[0-9a-f]{24}$/);
  await assert.rejects(c.getRequest(""), TypeError);
});

test("a non-JSON error page keeps its status and a readable message", async () => {
  const { fn } = stubFetch([{ status: 502, statusText: "Bad Gateway", body: "<html>upstream down</html>" }]);
  const c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: fn, maxRetries: 0 });
  await assert.rejects(c.getRequest("req_1"), (err) => {
    assert.ok(err instanceof ServerError);
    assert.equal(err.status, 502);
    assert.equal(err.message, "HTTP 502 Bad Gateway: <html>upstream down</html>");
    return true;
  });
});

test("the upstream's other error shapes are read too", async () => {
  const { fn } = stubFetch([
    { status: 400, body: JSON.stringify({ message: "flat message" }) },
    { status: 400, body: JSON.stringify({ success: false, error: { message: "nested message" } }) },
  ]);
  const c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: fn });
  await assert.rejects(c.getRequest("r"), /^BadRequestError: flat message$/);
  await assert.rejects(c.getRequest("r"), /nested message/);
});

test("a 2xx answer that is not JSON is an 'unexpected' error, not a success", async () => {
  const { fn } = stubFetch([{ status: 200, body: "<html>captive portal</html>" }]);
  const c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: fn });
  await assert.rejects(c.getRequest("r"), (err) => err instanceof AgentGateError && err.code === "unexpected" && err.status === 200);
});

test("a 429 is retried even for a call that could act twice: it was refused before any work", async () => {
  const s = stubFetch([{ status: 429, headers: { "Retry-After": "0" }, body: JSON.stringify({ error: "slow down" }) }, { status: 201, body: JSON.stringify({ id: "key_1" }) }]);
  const c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: s.fn, retryDelayMs: 1 });
  assert.equal((await c.createApiKey({ name: "n", scopes: ["request:read"] })).id, "key_1");
  assert.equal(s.calls.length, 2);
});

test("an unsafe call is retried only for errors before sending", async () => {
  const refused = Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
  const reset = Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }) });
  const created = { status: 201, body: JSON.stringify({ id: "pol_1" }) };

  let s = stubFetch([refused, created]);
  let c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: s.fn, retryDelayMs: 1 });
  assert.equal((await c.createPolicy({ name: "p", rules: [] })).id, "pol_1");
  assert.equal(s.calls.length, 2);

  s = stubFetch([reset, created]);
  c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: s.fn, retryDelayMs: 1 });
  await assert.rejects(c.createPolicy({ name: "p", rules: [] }), (err) => err instanceof NetworkError && /ECONNRESET/.test(err.message));
  assert.equal(s.calls.length, 1, "a reset connection may have created the policy: no retry");
});

test("the per-attempt timeout turns a hung server into a retried NetworkError", async () => {
  let calls = 0;
  const hang = (url, init) =>
    new Promise((_, reject) => {
      calls++;
      init.signal.addEventListener("abort", () => reject(init.signal.reason));
    });
  const c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: hang, timeoutMs: 30, maxRetries: 1, retryDelayMs: 1 });
  await assert.rejects(c.getRequest("r"), (err) => err instanceof NetworkError && /no answer within the timeout/.test(err.message));
  assert.equal(calls, 2);
});

test("a redirect is not followed: it is an error naming the target", async () => {
  const { fn, calls } = stubFetch([{ status: 301, headers: { Location: "https://gate.example/api/requests" } }]);
  const c = new AgentGateClient({ baseUrl: "http://gate.example", apiKey: "k", fetch: fn });
  await assert.rejects(c.request({ action: "x" }), (err) => {
    assert.ok(err instanceof AgentGateError);
    assert.equal(err.status, 301);
    assert.equal(err.code, "unexpected");
    assert.match(err.message, /redirected \(HTTP 301\) to https:\/\/gate\.example\/api\/requests/);
    return true;
  });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].init.redirect, "manual");
});

test("actionParams picks the approver's edit; paramsEdited ignores key order and identical resubmissions", () => {
  assert.deepEqual(actionParams({ params: { a: 1 }, approvedParams: null }), { a: 1 });
  assert.deepEqual(actionParams({ params: { a: 1 }, approvedParams: { a: 2 } }), { a: 2 });
  assert.deepEqual(actionParams({ params: { a: 1 } }), { a: 1 }, "a server without edits sends no approvedParams");
  assert.deepEqual(actionParams({ params: { a: 1 }, approvedParams: {} }), {}, "an edit that removed every param is still the edit");
  assert.equal(paramsEdited({ params: { a: 1 }, approvedParams: null }), false);
  assert.equal(paramsEdited({ params: { a: 1, b: [1, { c: 2 }] }, approvedParams: { b: [1, { c: 2 }], a: 1 } }), false);
  assert.equal(paramsEdited({ params: { a: 1 }, approvedParams: { a: "1" } }), true);
  assert.equal(paramsEdited({ params: { a: [1, 2] }, approvedParams: { a: [2, 1] } }), true);
  assert.equal(paramsEdited({ params: { a: 1 }, approvedParams: { a: 1, b: null } }), true);
  assert.equal(paramsEdited({ params: { a: {} }, approvedParams: { a: [] } }), true);
});

test("decide sends edited params and the grant's duration as a Go duration string", async () => {
  const answer = () => ({ status: 200, body: JSON.stringify({ id: "req_1", status: "approved" }) });
  const { fn, calls } = stubFetch([answer(), answer(), answer()]);
  const c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: fn });
  await c.decide("req_1", { decision: "approved", params: { amount: 100 }, grant: { durationMs: 3_600_000, maxUses: 5, conditions: { "params.amount": { $lte: 100 } } } });
  await c.decide("req_1", { decision: "approved", grant: { durationMs: 1500 } });
  await c.decide("req_1", { decision: "approved", grant: { duration: " 1h30m " } });
  assert.deepEqual(
    calls.map((x) => JSON.parse(x.init.body)),
    [
      { decision: "approved", params: { amount: 100 }, grant: { duration: "3600s", maxUses: 5, conditions: { "params.amount": { $lte: 100 } } } },
      { decision: "approved", grant: { duration: "1500ms" } },
      { decision: "approved", grant: { duration: "1h30m" } },
    ],
  );
});

test("decideBatch, listGrants, revokeGrant and the group calls use the documented routes", async () => {
  const ok = (body) => ({ status: 200, body: JSON.stringify(body) });
  const { fn, calls } = stubFetch([
    ok({ results: [{ id: "req_1", ok: true, status: 200 }] }),
    ok({ grants: [], pagination: { total: 0, limit: 10, offset: 0, hasMore: false } }),
    ok({ id: "grt_1", active: false }),
    ok({ groups: [] }),
    ok({ name: "oncall", members: ["a"] }),
    ok({ name: "oncall", members: ["a"] }),
    ok({ success: true }),
  ]);
  const c = new AgentGateClient({ baseUrl: "http://gate", apiKey: "k", fetch: fn });
  assert.equal((await c.decideBatch(["req_1"], { decision: "denied", reason: "r" }))[0].ok, true);
  assert.equal((await c.listGrants({ agentId: "key_1", action: "a b", activeOnly: true, limit: 10 })).pagination.limit, 10);
  assert.equal((await c.revokeGrant("grt_1")).id, "grt_1");
  await c.listGroups();
  await c.getGroup("oncall");
  await c.saveGroup("oncall", ["a"]);
  await c.deleteGroup("oncall");
  assert.deepEqual(
    calls.map((x) => [x.init.method, x.url, x.init.body ? JSON.parse(x.init.body) : null]),
    [
      ["POST", "http://gate/api/requests/decide-batch", { ids: ["req_1"], decision: "denied", reason: "r" }],
      ["GET", "http://gate/api/grants?agentId=key_1&action=a+b&limit=10&active=true", null],
      ["DELETE", "http://gate/api/grants/grt_1", null],
      ["GET", "http://gate/api/groups", null],
      ["GET", "http://gate/api/groups/oncall", null],
      ["PUT", "http://gate/api/groups/oncall", { members: ["a"] }],
      ["DELETE", "http://gate/api/groups/oncall", null],
    ],
  );
});
