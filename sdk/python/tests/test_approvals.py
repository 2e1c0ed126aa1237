"""End-to-end tests of the approval features against the real server:
edited params (and what ``@require_approval`` does with them), time-boxed
grants, batch decisions, approver groups and quorums."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import string
import time
import unittest

from _support import ADMIN_KEY, Later, Server, unique_action

from agentgate import (
    AgentGate,
    ApprovalEdited,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    Grant,
    NotFoundError,
    require_approval,
)

server: Server
agent: AgentGate
decider: AgentGate
decider2: AgentGate
admin: AgentGate

FAST = {"retry_delay": 0.02, "max_retry_delay": 2.0}


def setUpModule() -> None:
    global server, agent, decider, decider2, admin
    server = Server()
    agent = AgentGate(server.url, server.create_key("sdk-py-agent", ["request:create", "request:read"]), **FAST)
    decider = AgentGate(server.url, server.create_key("sdk-py-decider", ["request:decide", "request:read"]), **FAST)
    decider2 = AgentGate(server.url, server.create_key("sdk-py-decider-2", ["request:decide", "request:read"]), **FAST)
    admin = AgentGate(server.url, ADMIN_KEY, **FAST)


def tearDownModule() -> None:
    server.stop()


def decide_when_pending(action: str, decision: str = "approved", **options) -> Later:
    """A person who decides the request for action as soon as it appears."""

    def run():
        for _ in range(200):
            page = decider.list_requests(action=action, status="pending")
            if page:
                return decider.decide(page[0].id, decision, **options)
            time.sleep(0.05)
        raise AssertionError("the request never appeared")

    return Later(0, run)


def unique_name(prefix: str) -> str:
    return prefix + "-" + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))


def seconds_from_now(rfc3339: str) -> float:
    t = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return (t - dt.datetime.now(dt.timezone.utc)).total_seconds()


class EditedParamsTests(unittest.TestCase):
    def test_the_agent_sees_approved_params_and_action_params_picks_them(self) -> None:
        action = unique_action("refund")
        req = agent.request(action, {"amount": 120, "currency": "EUR"})
        self.assertIsNone(req.approved_params)
        self.assertEqual(req.action_params, {"amount": 120, "currency": "EUR"})
        self.assertFalse(req.params_edited)

        waiting = Later(0, lambda: agent.wait_for_decision(req.id, timeout=20))
        decided = decider.decide(req.id, "approved", reason="capped", params={"amount": 100, "currency": "EUR"})
        self.assertEqual(decided.status, "approved")
        self.assertEqual(decided.params, {"amount": 120, "currency": "EUR"})
        self.assertEqual(decided.approved_params, {"amount": 100, "currency": "EUR"})

        seen = waiting.result()
        self.assertEqual(seen.status, "approved")
        self.assertEqual(seen.approved_params, {"amount": 100, "currency": "EUR"})
        self.assertEqual(seen["approvedParams"], seen.approved_params)
        self.assertEqual(seen.action_params, {"amount": 100, "currency": "EUR"})
        self.assertTrue(seen.params_edited)
        approved = [e for e in agent.get_request_audit(req.id) if e["eventType"] == "approved"]
        self.assertTrue(approved[0]["details"]["edited"])

    def test_an_edit_goes_with_an_approval_is_a_dict_and_may_not_be_denied_by_policy(self) -> None:
        action = unique_action("transfer")
        p = admin.create_policy(
            "cap " + action, [{"match": {"action": action, "params.amount": {"$gt": 1000}}, "decision": "auto_deny"}]
        )
        try:
            req = agent.request(action, {"amount": 10})
            self.assertEqual(req.status, "pending")
            with self.assertRaises(BadRequestError) as cm:
                decider.decide(req.id, "denied", params={"amount": 5})
            self.assertEqual((cm.exception.status, cm.exception.message),
                             (400, "params and grant go with decision 'approved' only"))
            with self.assertRaises(TypeError):
                decider.decide(req.id, "approved", params=[1])  # type: ignore[arg-type]
            with self.assertRaises(BadRequestError) as cm:
                decider.decide(req.id, "approved", params={"amount": 5000})
            self.assertEqual(cm.exception.status, 422)
            self.assertRegex(cm.exception.message, r"^the edited request would be denied")
            self.assertEqual(agent.get_request(req.id).status, "pending")
        finally:
            admin.delete_policy(p["id"])


class RequireApprovalEditTests(unittest.TestCase):
    def test_default_mapping_runs_with_the_edited_arguments(self) -> None:
        action = unique_action("deploy")
        calls = []

        @require_approval(action, client=agent, timeout=20)
        def deploy(service, env="staging", *, replicas=1):
            calls.append((service, env, replicas))
            return env

        person = decide_when_pending(action, params={"service": "api", "env": "canary", "replicas": 2})
        self.assertEqual(deploy("api", "prod"), "canary")
        person.result()
        self.assertEqual(calls, [("api", "canary", 2)])

    def test_methods_varargs_and_unchanged_repr_arguments(self) -> None:
        action = unique_action("upload")

        class Blob:
            def __repr__(self) -> str:
                return "<Blob>"

        got = []

        class Store:
            @require_approval(action, client=agent, timeout=20)
            def upload(self, blob, *paths):
                got.append((self, blob, paths))

        blob, store = Blob(), Store()
        person = decide_when_pending(action, params={"blob": "<Blob>", "paths": ["/safe/a"]})
        store.upload(blob, "/etc/a", "/etc/b")
        person.result()
        self.assertEqual(len(got), 1)
        self.assertIs(got[0][0], store)
        self.assertIs(got[0][1], blob, "an unchanged argument keeps its object")
        self.assertEqual(got[0][2], ("/safe/a",))

    def test_an_edit_that_cannot_be_mapped_back_fails_closed(self) -> None:
        class Blob:
            def __repr__(self) -> str:
                return "<Blob>"

        cases = [
            ("added", {"name": "x", "blob": "<Blob>", "note": "hi"}, "added note"),
            ("removed", {"blob": "<Blob>"}, "removed name"),
            ("repr", {"name": "x", "blob": "<Other>"}, "blob, which was sent as its repr"),
        ]
        for label, edit, detail in cases:
            with self.subTest(label):
                action = unique_action("fail-closed")
                ran = []

                @require_approval(action, client=agent, timeout=20)
                def save(blob, name):
                    ran.append(name)

                person = decide_when_pending(action, params=edit)
                with self.assertRaises(ApprovalEdited) as cm:
                    save(Blob(), "x")
                person.result()
                self.assertEqual(ran, [])
                self.assertIn(detail, cm.exception.detail)
                self.assertEqual(cm.exception.request.status, "approved")
                self.assertEqual(cm.exception.approved_params, edit)
                self.assertEqual(cm.exception.requested_params, {"blob": "<Blob>", "name": "x"})

    def test_custom_params_with_an_edit_fail_closed(self) -> None:
        action = unique_action("refund")
        ran = []

        @require_approval(action, params=lambda amount, to: {"amount": amount}, client=agent, timeout=20)
        def refund(amount, to):
            ran.append(amount)

        person = decide_when_pending(action, params={"amount": 100})
        with self.assertRaises(ApprovalEdited) as cm:
            refund(120, "bob")
        person.result()
        self.assertEqual(ran, [])
        self.assertEqual(cm.exception.requested_params, {"amount": 120})
        self.assertEqual(cm.exception.approved_params, {"amount": 100})
        self.assertIn("params=", str(cm.exception))
        self.assertIn("approved_params", str(cm.exception))

    def test_custom_params_and_the_same_params_sent_back_run_normally(self) -> None:
        action = unique_action("refund-same")
        ran = []

        @require_approval(action, params=lambda amount, to: {"amount": amount, "to": to}, client=agent, timeout=20)
        def refund(amount, to):
            ran.append((amount, to))

        person = decide_when_pending(action, params={"to": "bob", "amount": 120.0})
        refund(120, "bob")
        self.assertIsNotNone(person.result().approved_params)
        self.assertEqual(ran, [(120, "bob")])

    def test_an_approved_params_argument_receives_the_approved_params(self) -> None:
        action = unique_action("refund-kw")
        got = []

        @require_approval(action, params=lambda amount, to: {"amount": amount}, client=agent, timeout=20)
        def refund(amount, to, *, approved_params=None):
            got.append((amount, to, approved_params))

        person = decide_when_pending(action, params={"amount": 100})
        refund(120, "bob")
        person.result()
        person = decide_when_pending(action)
        refund(30, "eve")
        person.result()
        self.assertEqual(got, [(120, "bob", {"amount": 100}), (30, "eve", {"amount": 30})])

        with self.assertRaisesRegex(TypeError, "approved_params is filled in by @require_approval"):
            refund(1, "x", approved_params={"amount": 1})
        self.assertEqual(agent.list_requests(action=action).total, 2, "nothing was asked for the refused call")

    def test_default_mapping_leaves_approved_params_out(self) -> None:
        action = unique_action("send")
        got = []

        @require_approval(action, client=agent, timeout=20)
        def send(to, approved_params=None):
            got.append((to, approved_params))

        person = decide_when_pending(action, params={"to": "team@example.com"})
        send("all@example.com")
        self.assertEqual(person.result().params, {"to": "all@example.com"})
        self.assertEqual(got, [("team@example.com", {"to": "team@example.com"})])

    def test_async_functions_get_the_edit_too(self) -> None:
        action = unique_action("async-edit")

        @require_approval(action, client=agent, timeout=20)
        async def send(to):
            await asyncio.sleep(0)
            return "sent to " + to

        person = decide_when_pending(action, params={"to": "alice"})
        self.assertEqual(asyncio.run(send("bob")), "sent to alice")
        person.result()


class GrantTests(unittest.TestCase):
    def test_a_grant_approves_the_next_request_at_once_up_to_max_uses(self) -> None:
        action = unique_action("deploy.staging")
        seed = agent.request(action)
        decider.decide(seed.id, "approved", grant=Grant("1h", max_uses=1))

        nxt = agent.request(action)
        self.assertEqual(nxt.status, "approved")
        self.assertEqual(nxt.decided_by_type, "grant")
        self.assertEqual(nxt.decided_by, "grant")
        self.assertRegex(nxt.grant_id, r"^grt_")
        self.assertTrue(nxt.decision_reason.startswith("Approved by grant " + nxt.grant_id))
        third = agent.request(action)
        self.assertEqual(third.status, "pending", "the grant's one use is spent")
        self.assertIsNone(third.grant_id)

        grants = agent.list_grants(action=action)
        self.assertEqual(grants.total, 1)
        g = grants[0]
        self.assertEqual(g["id"], nxt.grant_id)
        self.assertEqual(g["requestId"], seed.id)
        self.assertEqual(g["agentId"], seed["agent"]["id"])
        self.assertEqual((g["maxUses"], g["uses"], g["active"]), (1, 1, False))
        self.assertEqual(g["createdBy"], "sdk-py-decider")
        self.assertAlmostEqual(seconds_from_now(g["expiresAt"]), 3600, delta=60)

    def test_conditions_timedelta_active_only_and_revoke(self) -> None:
        action = unique_action("refund.small")
        seed = agent.request(action, {"amount": 20})
        decider.decide(seed.id, "approved", grant=Grant(dt.timedelta(minutes=10),
                                                        conditions={"params.amount": {"$lte": 100}}))
        self.assertEqual(agent.request(action, {"amount": 50}).decided_by_type, "grant")
        self.assertEqual(agent.request(action, {"amount": 500}).status, "pending", "outside the conditions")

        active = agent.list_grants(action=action, active_only=True)
        self.assertEqual(len(active), 1)
        g = active[0]
        self.assertTrue(g["active"])
        self.assertIsNone(g["maxUses"])
        self.assertEqual(g["uses"], 1)
        self.assertEqual(g["conditions"], {"params.amount": {"$lte": 100}})
        self.assertAlmostEqual(seconds_from_now(g["expiresAt"]), 600, delta=60)

        with self.assertRaises(ForbiddenError):
            agent.revoke_grant(g["id"])  # needs request:decide
        revoked = decider.revoke_grant(g["id"])
        self.assertEqual(revoked["id"], g["id"])
        self.assertFalse(revoked["active"])
        self.assertIsNotNone(revoked["revokedAt"])
        self.assertEqual(revoked["revokedBy"], "sdk-py-decider")
        self.assertEqual(decider.revoke_grant(g["id"])["revokedAt"], revoked["revokedAt"])

        self.assertEqual(len(agent.list_grants(action=action, active_only=True)), 0)
        self.assertEqual(len(agent.list_grants(action=action)), 1)
        self.assertEqual(agent.request(action, {"amount": 50}).status, "pending", "a revoked grant approves nothing")
        with self.assertRaises(NotFoundError):
            decider.revoke_grant("grt_missing")

    def test_bad_grants(self) -> None:
        req = agent.request(unique_action("grant-bad"))
        for grant in (Grant("1 hour"), Grant(-5), Grant(0), Grant("1h", max_uses=0), Grant(True)):  # type: ignore[arg-type]
            with self.subTest(grant=grant), self.assertRaises((ValueError, TypeError)):
                decider.decide(req.id, "approved", grant=grant)
        with self.assertRaises(TypeError):
            decider.decide(req.id, "approved", grant={"duration": "1h"})  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            decider.decide(req.id, "approved", grant=Grant("1h", conditions=[]))  # type: ignore[arg-type]
        with self.assertRaisesRegex(BadRequestError, r"^grant.duration must be between 1s and"):
            decider.decide(req.id, "approved", grant=Grant("721h"))
        self.assertEqual(agent.get_request(req.id).status, "pending")


class DecideBatchTests(unittest.TestCase):
    def test_reports_each_outcome(self) -> None:
        action = unique_action("batch")
        r1, r2, r3 = (agent.request(action) for _ in range(3))
        decider.decide(r3.id, "denied")
        results = decider.decide_batch([r1.id, r2.id, r3.id, "req_missing"], "approved", reason="batch",
                                       decided_by="alice")
        self.assertEqual([(r["id"], r["ok"], r["status"]) for r in results],
                         [(r1.id, True, 200), (r2.id, True, 200), (r3.id, False, 409), ("req_missing", False, 404)])
        self.assertEqual(results[0]["request"].status, "approved")
        self.assertEqual(results[0]["request"].decision_reason, "batch")
        self.assertEqual(results[1]["request"]["decidedByLabel"], "alice")
        self.assertEqual(results[2]["error"], "Request already denied")
        self.assertNotIn("request", results[2])
        self.assertEqual(results[3]["error"], "Request not found")
        self.assertEqual(agent.get_request(r2.id).status, "approved")

        with self.assertRaises(ForbiddenError):
            agent.decide_batch([r1.id], "approved")
        with self.assertRaises(ValueError):
            decider.decide_batch([], "approved")
        with self.assertRaises(ValueError):
            decider.decide_batch(r1.id, "approved")  # a string, not a list
        with self.assertRaises(TypeError):
            decider.decide_batch([r1.id], "approved", params={"a": 1})  # type: ignore[call-arg]


class GroupTests(unittest.TestCase):
    def test_admin_crud(self) -> None:
        name = unique_name("oncall")
        saved = admin.save_group(name, ["alice", "slack:U1", "alice"])
        self.assertEqual(saved["name"], name)
        self.assertEqual(saved["members"], ["alice", "slack:U1"])
        self.assertEqual(saved["source"], "api")
        self.assertEqual(admin.get_group(name), saved)
        self.assertIn(name, [g["name"] for g in admin.list_groups()])
        replaced = admin.save_group(name, ["bob"])
        self.assertEqual(replaced["members"], ["bob"])
        self.assertEqual(replaced["createdAt"], saved["createdAt"])
        admin.delete_group(name)
        with self.assertRaises(NotFoundError):
            admin.get_group(name)
        with self.assertRaises(NotFoundError):
            admin.delete_group(name)
        with self.assertRaises(BadRequestError):
            admin.save_group("Not A Name", ["x"])
        with self.assertRaises(BadRequestError):
            admin.save_group(name, [])
        with self.assertRaises(TypeError):
            admin.save_group(name, "alice")

    def test_groups_need_an_admin_key(self) -> None:
        with self.assertRaises(ForbiddenError):
            decider.list_groups()
        with self.assertRaises(ForbiddenError):
            decider.save_group("x", ["y"])
        with self.assertRaises(ForbiddenError):
            decider.delete_group("x")

    def test_a_group_of_approvers_decides_alone(self) -> None:
        name = unique_name("approvers")
        action = unique_action("grouped")
        admin.save_group(name, [decider.whoami()["id"]])
        p = admin.create_policy("group " + action, [{"match": {"action": action}, "decision": "route_to_human",
                                                     "approvers": ["group:" + name]}])
        try:
            req = agent.request(action)
            self.assertEqual(req["policyDecision"]["approvers"], ["group:" + name])
            with self.assertRaisesRegex(ForbiddenError, "only the rule's approvers"):
                decider2.decide(req.id, "approved")
            self.assertEqual(decider.decide(req.id, "approved").status, "approved")
        finally:
            admin.delete_policy(p["id"])
            admin.delete_group(name)


class QuorumTests(unittest.TestCase):
    def test_two_approvals(self) -> None:
        action = unique_action("quorum")
        p = admin.create_policy("two " + action, [{"match": {"action": action}, "decision": "route_to_human",
                                                   "approvals": {"required": 2}}])
        try:
            req = agent.request(action, {"amount": 1})
            self.assertEqual(req.status, "pending")
            self.assertEqual(req.approvals, {"required": 2, "received": 0})
            self.assertEqual(req["policyDecision"]["approvals"]["required"], 2)
            self.assertEqual(req.escalation_level, 0)

            waiting = Later(0, lambda: agent.wait_for_decision(req.id, timeout=20))
            first = decider.decide(req.id, "approved", reason="one")
            self.assertEqual(first.status, "pending")
            self.assertEqual(first.approvals, {"required": 2, "received": 1})
            with self.assertRaisesRegex(ConflictError, r"already approved this request \(1 of 2"):
                decider.decide(req.id, "approved")
            with self.assertRaisesRegex(ConflictError, "needs 2 approvals"):
                decider2.decide(req.id, "approved", params={"amount": 2})

            second = decider2.decide(req.id, "approved", reason="two")
            self.assertEqual(second.status, "approved")
            self.assertEqual(second.approvals, {"required": 2, "received": 2})
            self.assertEqual(waiting.result().status, "approved")
            self.assertEqual([e["eventType"] for e in agent.get_request_audit(req.id)],
                             ["created", "voted", "approved"])

            vetoed = agent.request(action)
            decider.decide(vetoed.id, "approved")
            self.assertEqual(decider2.decide(vetoed.id, "denied", reason="no").status, "denied", "one denial vetoes")
        finally:
            admin.delete_policy(p["id"])


if __name__ == "__main__":
    unittest.main()
