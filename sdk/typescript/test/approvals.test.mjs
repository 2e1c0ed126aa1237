// End-to-end tests of the approval features against the real server:
// edited params, time-boxed grants, batch decisions, approver groups and
// quorums.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  AgentGateClient,
  ApprovalEditedError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  actionParams,
  paramsEdited,
} from "@agentgate/sdk";

import { ADMIN_KEY, startServer, uniqueAction } from "./harness.mjs";

let server;
let agent; // request:create + request:read
let decider; // request:decide + request:read
let decider2; // a second person
let admin;

const fast = { retryDelayMs: 20, maxRetryDelayMs: 2000 };

before(async () => {
  server = await startServer();
  const make = async (name, scopes) => new AgentGateClient({ baseUrl: server.url, apiKey: await server.createKey(name, scopes), ...fast });
  agent = await make("sdk-ts-agent", ["request:create", "request:read"]);
  decider = await make("sdk-ts-decider", ["request:decide", "request:read"]);
  decider2 = await make("sdk-ts-decider-2", ["request:decide", "request:read"]);
  admin = new AgentGateClient({ baseUrl: server.url, apiKey: ADMIN_KEY, ...fast });
});

after(async () => {
  await server?.stop();
});

/** A person who decides the request for action as soon as it appears. */
async function decideWhenPending(action, input) {
  for (let i = 0; i < 200; i++) {
    const [r] = await decider.listRequests({ action, status: "pending" });
    if (r) return decider.decide(r.id, input);
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("the request never appeared");
}

/** |a - b| in ms between an RFC 3339 time and now + ms. */
function offBy(rfc3339, ms) {
  return Math.abs(Date.parse(rfc3339) - (Date.now() + ms));
}

describe("edited params", () => {
  test("the agent sees approvedParams and actionParams picks them", async () => {
    const action = uniqueAction("refund");
    const req = await agent.request({ action, params: { amount: 120, currency: "EUR" } });
    assert.equal(req.approvedParams, null);
    assert.deepEqual(actionParams(req), { amount: 120, currency: "EUR" });
    assert.equal(paramsEdited(req), false);

    const waiting = agent.waitForDecision(req.id, { timeoutMs: 20_000 });
    const decided = await decider.decide(req.id, { decision: "approved", reason: "capped", params: { amount: 100, currency: "EUR" } });
    assert.equal(decided.status, "approved");
    assert.deepEqual(decided.params, { amount: 120, currency: "EUR" }, "the asked params are kept");
    assert.deepEqual(decided.approvedParams, { amount: 100, currency: "EUR" });

    const seen = await waiting;
    assert.equal(seen.status, "approved");
    assert.deepEqual(seen.approvedParams, { amount: 100, currency: "EUR" });
    assert.deepEqual(actionParams(seen), { amount: 100, currency: "EUR" });
    assert.equal(paramsEdited(seen), true);

    const approvedEvent = (await agent.getRequestAudit(req.id)).find((e) => e.eventType === "approved");
    assert.equal(approvedEvent.details.edited, true);
  });

  test("an edit goes with an approval only, must be an object, and may not be one the policies deny", async () => {
    const action = uniqueAction("transfer");
    const p = await admin.createPolicy({
      name: `cap ${action}`,
      rules: [{ match: { action, "params.amount": { $gt: 1000 } }, decision: "auto_deny" }],
    });
    try {
      const req = await agent.request({ action, params: { amount: 10 } });
      assert.equal(req.status, "pending");
      await assert.rejects(decider.decide(req.id, { decision: "denied", params: { amount: 5 } }), (err) => {
        assert.ok(err instanceof BadRequestError);
        assert.equal(err.status, 400);
        assert.equal(err.message, "params and grant go with decision 'approved' only");
        return true;
      });
      await assert.rejects(decider.decide(req.id, { decision: "approved", params: [1] }), TypeError);
      await assert.rejects(decider.decide(req.id, { decision: "approved", params: { amount: 5000 } }), (err) => {
        assert.ok(err instanceof BadRequestError);
        assert.equal(err.status, 422);
        assert.match(err.message, /^the edited request would be denied/);
        return true;
      });
      assert.equal((await agent.getRequest(req.id)).status, "pending");
    } finally {
      await admin.deletePolicy(p.id);
    }
  });

  test("withApproval hands the approved params to the function", async () => {
    const action = uniqueAction("deploy");
    const person = decideWhenPending(action, { decision: "approved", params: { env: "staging", replicas: 2 } });
    let got;
    const result = await agent.withApproval(
      action,
      (receipt) => {
        got = receipt;
        return `deployed to ${receipt.params.env}`;
      },
      { params: { env: "prod", replicas: 2 }, timeoutMs: 20_000 },
    );
    await person;
    assert.equal(result, "deployed to staging");
    assert.equal(got.status, "approved");
    assert.equal(got.edited, true);
    assert.deepEqual(got.params, { env: "staging", replicas: 2 });
    assert.deepEqual(got.requestedParams, { env: "prod", replicas: 2 });
    assert.deepEqual(got.approvedParams, { env: "staging", replicas: 2 });
    assert.equal(got.decidedBy, "sdk-ts-decider");
  });

  test("withApproval never runs a function that takes no receipt when the params were edited", async () => {
    const action = uniqueAction("wipe");
    const person = decideWhenPending(action, { decision: "approved", params: { target: "/tmp/scratch" } });
    let ran = false;
    await assert.rejects(
      agent.withApproval(action, () => (ran = true), { params: { target: "/" }, timeoutMs: 20_000 }),
      (err) => {
        assert.ok(err instanceof ApprovalEditedError);
        assert.equal(err.request.status, "approved");
        assert.deepEqual(err.requestedParams, { target: "/" });
        assert.deepEqual(err.approvedParams, { target: "/tmp/scratch" });
        assert.match(err.message, /edited params/);
        return true;
      },
    );
    await person;
    assert.equal(ran, false);
  });

  test("the same params sent back by the approver (in another key order) are not an edit", async () => {
    const action = uniqueAction("same");
    const person = decideWhenPending(action, { decision: "approved", params: { b: [1, { c: true }], a: "x" } });
    let ran = 0;
    await agent.withApproval(action, () => ran++, { params: { a: "x", b: [1, { c: true }] }, timeoutMs: 20_000 });
    const decided = await person;
    assert.notEqual(decided.approvedParams, null);
    assert.equal(paramsEdited(decided), false);
    assert.equal(ran, 1);
  });
});

describe("grants", () => {
  test("an approval with a grant approves the agent's next request at once, up to maxUses", async () => {
    const action = uniqueAction("deploy.staging");
    const seed = await agent.request({ action });
    await decider.decide(seed.id, { decision: "approved", grant: { duration: "1h", maxUses: 1 } });

    const next = await agent.request({ action });
    assert.equal(next.status, "approved");
    assert.equal(next.decidedByType, "grant");
    assert.equal(next.decidedBy, "grant");
    assert.match(next.grantId, /^grt_/);
    assert.match(next.decisionReason, new RegExp(`^Approved by grant ${next.grantId}`));

    const third = await agent.request({ action });
    assert.equal(third.status, "pending", "the grant's one use is spent");
    assert.equal(third.grantId, undefined);

    const grants = await agent.listGrants({ action });
    assert.equal(grants.length, 1);
    assert.equal(grants.pagination.total, 1);
    const [g] = grants;
    assert.equal(g.id, next.grantId);
    assert.equal(g.requestId, seed.id);
    assert.equal(g.agentId, seed.agent.id);
    assert.equal(g.action, action);
    assert.equal(g.maxUses, 1);
    assert.equal(g.uses, 1);
    assert.equal(g.active, false);
    assert.equal(g.createdBy, "sdk-ts-decider");
    assert.ok(offBy(g.expiresAt, 3_600_000) < 60_000, `expiresAt ${g.expiresAt} is not an hour away`);
  });

  test("conditions, durationMs, activeOnly listing and revokeGrant", async () => {
    const action = uniqueAction("refund.small");
    const seed = await agent.request({ action, params: { amount: 20 } });
    await decider.decide(seed.id, {
      decision: "approved",
      grant: { durationMs: 10 * 60_000, conditions: { "params.amount": { $lte: 100 } } },
    });
    assert.equal((await agent.request({ action, params: { amount: 50 } })).decidedByType, "grant");
    assert.equal((await agent.request({ action, params: { amount: 500 } })).status, "pending", "outside the conditions");

    const [g, ...more] = await agent.listGrants({ action, activeOnly: true });
    assert.equal(more.length, 0);
    assert.equal(g.active, true);
    assert.equal(g.maxUses, null);
    assert.equal(g.uses, 1);
    assert.deepEqual(g.conditions, { "params.amount": { $lte: 100 } });
    assert.ok(offBy(g.expiresAt, 10 * 60_000) < 60_000, `expiresAt ${g.expiresAt} is not 10 minutes away`);

    await assert.rejects(agent.revokeGrant(g.id), ForbiddenError, "revoking needs request:decide");
    const revoked = await decider.revokeGrant(g.id);
    assert.equal(revoked.id, g.id);
    assert.equal(revoked.active, false);
    assert.notEqual(revoked.revokedAt, null);
    assert.equal(revoked.revokedBy, "sdk-ts-decider");
    assert.equal((await decider.revokeGrant(g.id)).revokedAt, revoked.revokedAt, "revoking twice changes nothing");

    assert.equal((await agent.listGrants({ action, activeOnly: true })).length, 0);
    assert.equal((await agent.listGrants({ action })).length, 1);
    assert.equal((await agent.request({ action, params: { amount: 50 } })).status, "pending", "a revoked grant approves nothing");
    await assert.rejects(decider.revokeGrant("grt_missing"), NotFoundError);
  });

  test("bad grants are refused before any call, or by the server with its message", async () => {
    const req = await agent.request({ action: uniqueAction("grant-bad") });
    for (const grant of [{}, { duration: "1 hour" }, { durationMs: -5 }, { duration: "1h", durationMs: 1000 }, { duration: "1h", maxUses: 0 }, { duration: "1h", conditions: [] }]) {
      await assert.rejects(decider.decide(req.id, { decision: "approved", grant }), TypeError, JSON.stringify(grant));
    }
    await assert.rejects(decider.decide(req.id, { decision: "approved", grant: { duration: "721h" } }), (err) => {
      assert.ok(err instanceof BadRequestError);
      assert.match(err.message, /^grant.duration must be between 1s and/);
      return true;
    });
    assert.equal((await agent.getRequest(req.id)).status, "pending");
  });
});

describe("decideBatch", () => {
  test("reports each outcome: decided, already decided, unknown", async () => {
    const action = uniqueAction("batch");
    const r1 = await agent.request({ action });
    const r2 = await agent.request({ action });
    const r3 = await agent.request({ action });
    await decider.decide(r3.id, { decision: "denied" });

    const results = await decider.decideBatch([r1.id, r2.id, r3.id, "req_missing"], { decision: "approved", reason: "batch", decidedBy: "alice" });
    assert.deepEqual(
      results.map((r) => [r.id, r.ok, r.status]),
      [
        [r1.id, true, 200],
        [r2.id, true, 200],
        [r3.id, false, 409],
        ["req_missing", false, 404],
      ],
    );
    assert.equal(results[0].request.status, "approved");
    assert.equal(results[0].request.decisionReason, "batch");
    assert.equal(results[1].request.decidedByLabel, "alice");
    assert.equal(results[2].error, "Request already denied");
    assert.equal(results[2].request, undefined);
    assert.equal(results[3].error, "Request not found");
    assert.equal((await agent.getRequest(r2.id)).status, "approved");

    await assert.rejects(agent.decideBatch([r1.id], { decision: "approved" }), ForbiddenError);
    await assert.rejects(decider.decideBatch([], { decision: "approved" }), TypeError);
    await assert.rejects(decider.decideBatch([r1.id], { decision: "approved", params: { a: 1 } }), TypeError);
    await assert.rejects(decider.decideBatch([r1.id], { decision: "approved", grant: { duration: "1h" } }), TypeError);
  });
});

describe("groups", () => {
  test("admin creates, reads, replaces and deletes a group", async () => {
    const name = `oncall-${Math.random().toString(36).slice(2, 8)}`;
    const saved = await admin.saveGroup(name, ["alice", "slack:U1", "alice"]);
    assert.equal(saved.name, name);
    assert.deepEqual(saved.members, ["alice", "slack:U1"], "duplicates are dropped");
    assert.equal(saved.source, "api");
    assert.deepEqual(await admin.getGroup(name), saved);
    assert.ok((await admin.listGroups()).some((g) => g.name === name));

    const replaced = await admin.saveGroup(name, ["bob"]);
    assert.deepEqual(replaced.members, ["bob"]);
    assert.equal(replaced.createdAt, saved.createdAt);

    await admin.deleteGroup(name);
    await assert.rejects(admin.getGroup(name), NotFoundError);
    await assert.rejects(admin.deleteGroup(name), NotFoundError);
    await assert.rejects(admin.saveGroup("Not A Name", ["x"]), BadRequestError);
    await assert.rejects(admin.saveGroup(name, []), BadRequestError);
  });

  test("groups need an admin key", async () => {
    await assert.rejects(decider.listGroups(), ForbiddenError);
    await assert.rejects(decider.saveGroup("x", ["y"]), ForbiddenError);
    await assert.rejects(decider.deleteGroup("x"), ForbiddenError);
  });

  test("a rule's approvers may name a group: only its members decide", async () => {
    const name = `approvers-${Math.random().toString(36).slice(2, 8)}`;
    const action = uniqueAction("grouped");
    await admin.saveGroup(name, [(await decider.whoami()).id]);
    const p = await admin.createPolicy({ name: `group ${action}`, rules: [{ match: { action }, decision: "route_to_human", approvers: [`group:${name}`] }] });
    try {
      const req = await agent.request({ action });
      assert.deepEqual(req.policyDecision.approvers, [`group:${name}`]);
      await assert.rejects(decider2.decide(req.id, { decision: "approved" }), (err) => {
        assert.ok(err instanceof ForbiddenError);
        assert.match(err.message, /only the rule's approvers/);
        return true;
      });
      assert.equal((await decider.decide(req.id, { decision: "approved" })).status, "approved");
    } finally {
      await admin.deletePolicy(p.id);
      await admin.deleteGroup(name);
    }
  });
});

describe("quorum", () => {
  test("a rule that needs two approvals stays pending after the first", async () => {
    const action = uniqueAction("quorum");
    const p = await admin.createPolicy({
      name: `two ${action}`,
      rules: [{ match: { action }, decision: "route_to_human", approvals: { required: 2 } }],
    });
    try {
      const req = await agent.request({ action, params: { amount: 1 } });
      assert.equal(req.status, "pending");
      assert.deepEqual(req.approvals, { required: 2, received: 0 });
      assert.equal(req.policyDecision.approvals.required, 2);

      const waiting = agent.waitForDecision(req.id, { timeoutMs: 20_000 });
      const first = await decider.decide(req.id, { decision: "approved", reason: "one" });
      assert.equal(first.status, "pending");
      assert.deepEqual(first.approvals, { required: 2, received: 1 });
      await assert.rejects(decider.decide(req.id, { decision: "approved" }), (err) => {
        assert.ok(err instanceof ConflictError);
        assert.match(err.message, /already approved this request \(1 of 2/);
        return true;
      });
      await assert.rejects(decider2.decide(req.id, { decision: "approved", params: { amount: 2 } }), (err) => {
        assert.ok(err instanceof ConflictError);
        assert.match(err.message, /needs 2 approvals/);
        return true;
      });

      const second = await decider2.decide(req.id, { decision: "approved", reason: "two" });
      assert.equal(second.status, "approved");
      assert.deepEqual(second.approvals, { required: 2, received: 2 });
      assert.equal((await waiting).status, "approved");
      assert.deepEqual(
        (await agent.getRequestAudit(req.id)).map((e) => e.eventType),
        ["created", "voted", "approved"],
      );

      const vetoed = await agent.request({ action });
      await decider.decide(vetoed.id, { decision: "approved" });
      const denied = await decider2.decide(vetoed.id, { decision: "denied", reason: "no" });
      assert.equal(denied.status, "denied", "one denial vetoes");
    } finally {
      await admin.deletePolicy(p.id);
    }
  });
});
