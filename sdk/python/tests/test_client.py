"""End-to-end tests of the Python SDK against the real AgentGate server."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
import unittest

from _support import ADMIN_KEY, Later, Proxy, Server, unique_action

import agentgate
from agentgate import (
    AgentGate,
    AgentGateConnectionError,
    AgentGateError,
    ApprovalDenied,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitError,
    ServerError,
    WaitTimeoutError,
    require_approval,
)

server: Server
agent: AgentGate
decider: AgentGate
admin: AgentGate

# Small retry delays keep the fault tests fast; the logic is the same.
FAST = {"retry_delay": 0.02, "max_retry_delay": 2.0}


def setUpModule() -> None:
    global server, agent, decider, admin
    server = Server()
    agent = AgentGate(server.url, server.create_key("sdk-py-agent", ["request:create", "request:read"]), **FAST)
    decider = AgentGate(server.url + "/", server.create_key("sdk-py-decider", ["request:decide", "request:read"]), **FAST)
    admin = AgentGate(server.url, ADMIN_KEY, **FAST)


def tearDownModule() -> None:
    server.stop()


def via_proxy(fault, **options):
    """A client with an agent key that talks through a fault-injecting proxy."""
    proxy = Proxy(server.url, fault)
    key = server.create_key("sdk-py-proxy-agent", ["request:create", "request:read"])
    return proxy, AgentGate(proxy.url, key, **{**FAST, **options})


def approve_when_pending(action: str, decision: str = "approved") -> Later:
    """A person who decides the request for action as soon as it appears."""

    def run():
        for _ in range(200):
            page = decider.list_requests(action=action, status="pending")
            if page:
                return decider.decide(page[0].id, decision)
            time.sleep(0.05)
        raise AssertionError("the request never appeared")

    return Later(0, run)


class RequestTests(unittest.TestCase):
    def test_request_and_get_round_trip(self) -> None:
        action = unique_action("send_email")
        expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10)
        req = agent.request(
            action, {"to": "bob@example.com", "n": 2}, context={"thread": "t-1"}, urgency="high", expires_at=expires
        )
        self.assertRegex(req.id, r"^req_")
        self.assertEqual(req.status, "pending")
        self.assertEqual(req["status"], "pending")
        self.assertFalse(req.is_decided)
        self.assertEqual(req.action, action)
        self.assertEqual(req.params, {"to": "bob@example.com", "n": 2})
        self.assertEqual(req.context, {"thread": "t-1"})
        self.assertEqual(req.urgency, "high")
        got = dt.datetime.fromisoformat(req.expires_at.replace("Z", "+00:00"))
        self.assertLess(abs((got - expires).total_seconds()), 0.002)
        self.assertEqual(req["agent"]["name"], "sdk-py-agent")
        self.assertEqual(agent.get_request(req.id)["params"], req.params)

    def test_list_pages_and_iterate(self) -> None:
        action = unique_action("list")
        ids = [agent.request(action, {"i": i}).id for i in range(5)]
        page = agent.list_requests(action=action, limit=2, sort="created_at")
        self.assertIsInstance(page, list)
        self.assertEqual([r.id for r in page], ids[:2])
        self.assertEqual(page.pagination, {"total": 5, "limit": 2, "offset": 0, "hasMore": True})
        self.assertEqual(page.total, 5)
        self.assertTrue(page.has_more)
        last = agent.list_requests(action=action, limit=2, offset=4, sort="created_at")
        self.assertFalse(last.has_more)
        self.assertEqual(sorted(r.id for r in agent.iter_requests(action=action, page_size=2)), sorted(ids))
        self.assertEqual(len(agent.list_requests(action=action, status="approved")), 0)

    def test_validation_error_keeps_server_message(self) -> None:
        with self.assertRaises(BadRequestError) as cm:
            agent.request(unique_action("bad"), urgency="whenever")
        self.assertEqual(cm.exception.status, 400)
        self.assertEqual(cm.exception.message, "urgency must be one of low, normal, high, critical")
        self.assertEqual(str(cm.exception), cm.exception.message)
        self.assertRegex(cm.exception.request_id, r"^[0-9a-f]{24}$")
        with self.assertRaisesRegex(BadRequestError, "limit must be an integer between 1 and 100"):
            agent.list_requests(limit=1000)

    def test_client_side_validation(self) -> None:
        with self.assertRaises(ValueError):
            agent.request("  ")
        with self.assertRaises(ValueError):
            agent.get_request("")
        with self.assertRaises(ValueError):
            agent.request("x", expires_at=dt.datetime.now())  # naive datetime
        with self.assertRaises(ValueError):
            decider.decide("req_1", "maybe")


class ErrorMappingTests(unittest.TestCase):
    def test_401_is_authentication_error_not_connectivity_and_not_retried(self) -> None:
        proxy = Proxy(server.url)
        try:
            bad = AgentGate(proxy.url, "agk_not-a-real-key", **FAST)
            with self.assertRaises(AuthenticationError) as cm:
                bad.request(unique_action("x"))
            err = cm.exception
            self.assertIsInstance(err, AgentGateError)
            self.assertNotIsInstance(err, AgentGateConnectionError)
            self.assertEqual(err.status, 401)
            self.assertTrue(err.message and not err.message.startswith("HTTP"), err.message)
            self.assertEqual(proxy.count("POST", "/api/requests"), 1)
        finally:
            proxy.stop()

    def test_403_missing_scope(self) -> None:
        req = agent.request(unique_action("scope"))
        with self.assertRaisesRegex(ForbiddenError, "request:decide") as cm:
            agent.decide(req.id, "approved")
        self.assertEqual(cm.exception.status, 403)

    def test_403_creator_cannot_decide(self) -> None:
        req = admin.request(unique_action("self"))
        with self.assertRaises(ForbiddenError):
            admin.decide(req.id, "approved")
        self.assertEqual(admin.get_request(req.id).status, "pending")

    def test_404_unknown_request(self) -> None:
        with self.assertRaises(NotFoundError) as cm:
            agent.get_request("req_does-not-exist")
        self.assertEqual(cm.exception.message, "Request not found")
        # The long-poll must not mistake an unknown request for a missing route.
        with self.assertRaises(NotFoundError):
            agent.wait_for_decision("req_does-not-exist", timeout=5)

    def test_409_decide_twice(self) -> None:
        req = agent.request(unique_action("twice"))
        out = decider.decide(req.id, "denied", reason="not today", decided_by="alice")
        self.assertEqual(out.status, "denied")
        self.assertEqual(out.decision_reason, "not today")
        self.assertEqual(out["decidedByLabel"], "alice")
        with self.assertRaises(ConflictError) as cm:
            decider.decide(req.id, "approved")
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(cm.exception.message, "Request already denied")

    def test_unreachable_server_is_connection_error(self) -> None:
        proxy = Proxy(server.url)
        dead = proxy.url
        proxy.stop()  # nothing listens there any more
        c = AgentGate(dead, "agk_x", max_retries=2, **FAST)
        with self.assertRaises(AgentGateConnectionError) as cm:
            c.get_request("req_1")
        self.assertEqual(cm.exception.status, 0)
        self.assertRegex(cm.exception.message, "ConnectionRefused")
        self.assertRegex(cm.exception.request_id, r"^[0-9a-f]{24}$")


class RetryTests(unittest.TestCase):
    def test_lost_answer_to_request_is_retried_with_same_idempotency_key(self) -> None:
        action = unique_action("idem")
        proxy, client = via_proxy(
            lambda m, p, n: "forward-drop" if m == "POST" and p == "/api/requests" and n == 1 else None
        )
        try:
            req = client.request(action, {"a": 1})
            posts = [s for s in proxy.seen if s[0] == "POST"]
            self.assertEqual(len(posts), 2)
            key = posts[0][2]["Idempotency-Key"]
            self.assertRegex(key, r"^[0-9a-f-]{36}$")
            self.assertEqual(posts[1][2]["Idempotency-Key"], key)
            self.assertEqual(posts[1][2]["X-Request-Id"], posts[0][2]["X-Request-Id"])
            page = agent.list_requests(action=action)
            self.assertEqual(page.total, 1, "the retry must not create a second request")
            self.assertEqual(page[0].id, req.id)
        finally:
            proxy.stop()

    def test_each_call_gets_its_own_key_and_a_given_key_is_used(self) -> None:
        proxy, client = via_proxy(lambda m, p, n: None)
        try:
            action = unique_action("keys")
            a, b = client.request(action), client.request(action)
            self.assertNotEqual(a.id, b.id)
            c = client.request(action, idempotency_key="my-key-1")
            d = client.request(action, idempotency_key="my-key-1")
            self.assertEqual(c.id, d.id)
            keys = [s[2]["Idempotency-Key"] for s in proxy.seen if s[0] == "POST"]
            self.assertNotEqual(keys[0], keys[1])
            self.assertEqual(keys[2:], ["my-key-1", "my-key-1"])
        finally:
            proxy.stop()

    def test_503_and_429_are_retried_and_retry_after_honoured(self) -> None:
        def fault(m, p, n):
            if m != "GET":
                return None
            if n == 1:
                return (503, {}, {"error": "busy"})
            if n == 2:
                return (429, {"Retry-After": "1"}, {"error": "slow down"})
            return None

        proxy, client = via_proxy(fault)
        try:
            req = agent.request(unique_action("retry"))
            t0 = time.monotonic()
            self.assertEqual(client.get_request(req.id).id, req.id)
            elapsed = time.monotonic() - t0
            self.assertEqual(proxy.count("GET", "/api/requests/" + req.id), 3)
            self.assertGreaterEqual(elapsed, 0.9, "Retry-After: 1 was not honoured")
        finally:
            proxy.stop()

    def test_last_error_after_retries_keeps_its_message(self) -> None:
        proxy, client = via_proxy(lambda m, p, n: (503, {}, {"error": "authentication is unavailable"}), max_retries=2)
        try:
            with self.assertRaises(ServerError) as cm:
                client.get_request("req_x")
            self.assertEqual(cm.exception.status, 503)
            self.assertEqual(cm.exception.message, "authentication is unavailable")
            self.assertEqual(proxy.count("GET", "/api/requests/req_x"), 3)
        finally:
            proxy.stop()

    def test_long_retry_after_is_raised_at_once(self) -> None:
        proxy, client = via_proxy(lambda m, p, n: (429, {"Retry-After": "3600"}, {"error": "Rate limit exceeded"}))
        try:
            with self.assertRaises(RateLimitError) as cm:
                client.get_request("req_x")
            self.assertEqual(cm.exception.retry_after, 3600)
            self.assertEqual(cm.exception.message, "Rate limit exceeded")
            self.assertEqual(proxy.count("GET", "/api/requests/req_x"), 1)
        finally:
            proxy.stop()

    def test_500_is_retried_for_a_get_not_for_a_post(self) -> None:
        proxy, client = via_proxy(lambda m, p, n: (500, {}, {"error": "internal error"}) if n == 1 else None)
        try:
            req = agent.request(unique_action("five-hundred"))
            self.assertEqual(client.get_request(req.id).id, req.id)
            self.assertEqual(proxy.count("GET", "/api/requests/" + req.id), 2)
            with self.assertRaises(ServerError):
                client.request(unique_action("five-hundred"))
            self.assertEqual(proxy.count("POST", "/api/requests"), 1)
        finally:
            proxy.stop()

    def test_unsafe_call_not_repeated_after_502_or_503_but_after_429(self) -> None:
        def fault(m, p, n):
            if m != "POST":
                return None
            return {1: (502, {}, {"error": "bad gateway"}), 2: (503, {}, {"error": "busy"}),
                    3: (429, {"Retry-After": "0"}, {"error": "slow down"})}.get(n)

        proxy = Proxy(server.url, fault)
        try:
            c = AgentGate(proxy.url, ADMIN_KEY, **FAST)
            with self.assertRaises(ServerError):
                c.create_policy("p", [])
            with self.assertRaises(ServerError):
                c.create_policy("p", [])
            created = c.create_policy("sdk 429 then ok", [{"match": {"action": "sdk.429"}, "decision": "route_to_human"}])  # 429 is refused before any work: retried
            self.assertEqual(proxy.count("POST", "/api/policies"), 4)
            admin.delete_policy(created["id"])
        finally:
            proxy.stop()

    def test_non_json_error_page(self) -> None:
        proxy = Proxy(server.url, lambda m, p, n: (502, {"Content-Type": "text/html"}, b"<html>upstream down</html>"))
        try:
            with self.assertRaises(ServerError) as cm:
                AgentGate(proxy.url, "k", max_retries=0).get_request("r")
            self.assertEqual(cm.exception.message, "HTTP 502 Bad Gateway: <html>upstream down</html>")
        finally:
            proxy.stop()

    def test_redirects_are_not_followed(self) -> None:
        target = Proxy(server.url)  # would record anything the key reached
        proxy = Proxy(server.url, lambda m, p, n: (307, {"Location": target.url + p}, b""))
        try:
            with self.assertRaises(agentgate.UnexpectedResponseError) as cm:
                AgentGate(proxy.url, "agk_secret", **FAST).request(unique_action("redir"))
            self.assertEqual(cm.exception.status, 307)
            self.assertIn("redirected (HTTP 307) to " + target.url, cm.exception.message)
            self.assertEqual(target.seen, [])
            self.assertEqual(proxy.count("POST", "/api/requests"), 1)
        finally:
            proxy.stop()
            target.stop()

    def test_conflict_after_retried_decide_stands_when_someone_else_decided(self) -> None:
        req = agent.request(unique_action("raced-decide"))
        proxy = Proxy(server.url, lambda m, p, n: (503, {}, {"error": "busy"}) if m == "POST" and n == 1 else None)
        try:
            d3 = AgentGate(proxy.url, server.create_key("d3", ["request:decide", "request:read"]), **FAST)
            decider.decide(req.id, "approved")
            with self.assertRaises(ConflictError):
                d3.decide(req.id, "approved")
            self.assertEqual(proxy.count("POST", "/api/requests/%s/decide" % req.id), 2)
        finally:
            proxy.stop()

    def test_lost_decide_answer_returns_the_decision(self) -> None:
        req = agent.request(unique_action("lost-decide"))
        proxy = Proxy(server.url, lambda m, p, n: "forward-drop" if m == "POST" and n == 1 else None)
        try:
            d2 = AgentGate(proxy.url, server.create_key("d2", ["request:decide", "request:read"]), **FAST)
            out = d2.decide(req.id, "approved", reason="ok")
            self.assertEqual(out.status, "approved")
            self.assertEqual(proxy.count("POST", "/api/requests/%s/decide" % req.id), 2)
        finally:
            proxy.stop()


class WaitTests(unittest.TestCase):
    def test_returns_as_soon_as_a_concurrent_decide_lands(self) -> None:
        req = agent.request(unique_action("wait"))
        decided_at = {}

        def decide():
            decided_at["t"] = time.monotonic()
            return decider.decide(req.id, "approved", decided_by="bob")

        bg = Later(0.2, decide)
        out = agent.wait_for_decision(req.id, timeout=20)
        bg.result()
        self.assertEqual(out.status, "approved")
        self.assertTrue(out.approved)
        # The long-poll answers on the decision, not at its 20 s timeout.
        self.assertLess(time.monotonic() - decided_at["t"], 5)

    def test_survives_a_dropped_connection(self) -> None:
        req = agent.request(unique_action("wait-drop"))
        proxy, client = via_proxy(lambda m, p, n: "drop" if "/wait" in p and n == 1 else None)
        try:
            bg = Later(0.3, lambda: decider.decide(req.id, "denied"))
            out = client.wait_for_decision(req.id, timeout=20)
            bg.result()
            self.assertEqual(out.status, "denied")
            self.assertGreaterEqual(proxy.count("GET", "/api/requests/%s/wait" % req.id), 2)
        finally:
            proxy.stop()

    def test_polls_when_the_server_has_no_long_poll_route(self) -> None:
        req = agent.request(unique_action("wait-poll"))
        proxy, client = via_proxy(
            lambda m, p, n: (404, {}, {"error": "Route GET %s not found" % p.split("?")[0]}) if "/wait" in p else None
        )
        try:
            bg = Later(0.3, lambda: decider.decide(req.id, "approved"))
            out = client.wait_for_decision(req.id, timeout=20, poll_interval=0.05)
            bg.result()
            self.assertEqual(out.status, "approved")
            self.assertEqual(proxy.count("GET", "/api/requests/%s/wait" % req.id), 1)
            self.assertGreaterEqual(proxy.count("GET", "/api/requests/" + req.id), 3)
        finally:
            proxy.stop()

    def test_asks_for_shorter_long_polls_when_capped(self) -> None:
        req = agent.request(unique_action("wait-cap"))
        asked = []

        def fault(m, p, n):
            if "/wait" not in p:
                return None
            ms = int(re.search(r"timeout=(\d+)ms", p).group(1))
            asked.append(ms)
            return (400, {}, {"error": "timeout must be between 0s and 5s"}) if ms > 5000 else None

        proxy, client = via_proxy(fault)
        try:
            bg = Later(0.3, lambda: decider.decide(req.id, "approved"))
            self.assertEqual(client.wait_for_decision(req.id, timeout=60).status, "approved")
            bg.result()
            self.assertEqual(asked, [30000, 5000], "it should adopt the server's cap from the 400 message")
        finally:
            proxy.stop()

    def test_timeout_raises_with_the_pending_request(self) -> None:
        req = agent.request(unique_action("wait-timeout"))
        with self.assertRaises(WaitTimeoutError) as cm:
            agent.wait_for_decision(req.id, timeout=0.3)
        self.assertEqual(cm.exception.status, 408)
        self.assertEqual(cm.exception.request["id"], req.id)
        self.assertEqual(cm.exception.request["status"], "pending")

    def test_request_and_wait_returns_a_policys_answer(self) -> None:
        action = unique_action("auto")
        p = admin.create_policy("auto " + action, [{"match": {"action": action}, "decision": "auto_approve"}])
        try:
            out = agent.request_and_wait(action)
            self.assertEqual(out.status, "approved")
            self.assertEqual(out["decidedByType"], "policy")
        finally:
            admin.delete_policy(p["id"])

    def test_expiry_ends_the_wait(self) -> None:
        expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
        req = agent.request(unique_action("expire"), expires_at=expires)
        self.assertEqual(agent.wait_for_decision(req.id, timeout=20).status, "expired")


class RequireApprovalTests(unittest.TestCase):
    def test_runs_once_approved_with_the_arguments_as_params(self) -> None:
        action = unique_action("deploy")
        calls = []

        @require_approval(action, client=agent, urgency="critical", timeout=20)
        def deploy(service, env="staging", *, dry_run=False):
            calls.append((service, env, dry_run))
            return "deployed %s to %s" % (service, env)

        person = approve_when_pending(action)
        self.assertEqual(deploy("api", "prod"), "deployed api to prod")
        decided = person.result()
        self.assertEqual(calls, [("api", "prod", False)])
        self.assertEqual(decided.params, {"service": "api", "env": "prod", "dry_run": False})
        self.assertEqual(decided.urgency, "critical")
        self.assertEqual(deploy.__name__, "deploy")

    def test_params_callable_and_methods(self) -> None:
        action = unique_action("refund")

        class Billing:
            @require_approval(action, params=lambda self, amount, to: {"amount": amount}, client=agent, timeout=20)
            def refund(self, amount, to):
                return amount

        person = approve_when_pending(action)
        self.assertEqual(Billing().refund(42, "bob"), 42)
        self.assertEqual(person.result().params, {"amount": 42})

    def test_non_json_arguments_are_sent_as_repr(self) -> None:
        action = unique_action("upload")

        class Blob:
            def __repr__(self) -> str:
                return "<Blob 3 bytes>"

        class Service:
            @agent.require_approval(action, timeout=20)
            def upload(self, blob, name):
                return name

        person = approve_when_pending(action)
        self.assertEqual(Service().upload(Blob(), "x.bin"), "x.bin")
        self.assertEqual(person.result().params, {"blob": "<Blob 3 bytes>", "name": "x.bin"})

    def test_non_json_params_from_a_callable_fail_before_asking(self) -> None:
        action = unique_action("bad-params")
        ran = []

        @require_approval(action, params=lambda x: {"x": x}, client=agent)
        def f(x):
            ran.append(x)

        with self.assertRaisesRegex(TypeError, "not JSON-encodable"):
            f(object())
        self.assertEqual(ran, [])
        self.assertEqual(agent.list_requests(action=action).total, 0)

    def test_denied_raises_approval_denied_and_never_runs(self) -> None:
        action = unique_action("forbidden")
        p = admin.create_policy("deny " + action, [{"match": {"action": action}, "decision": "auto_deny"}])
        ran = []
        try:

            @require_approval(action, client=agent)
            def f():
                ran.append(1)

            with self.assertRaises(ApprovalDenied) as cm:
                f()
            self.assertEqual(cm.exception.status, "denied")
            self.assertEqual(cm.exception.request["action"], action)
            self.assertEqual(ran, [])
        finally:
            admin.delete_policy(p["id"])

    def test_expired_is_a_denial(self) -> None:
        ran = []

        @require_approval(
            unique_action("expiring"),
            client=agent,
            expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1),
        )
        def f():
            ran.append(1)

        with self.assertRaises(ApprovalDenied) as cm:
            f()
        self.assertEqual(cm.exception.status, "expired")
        self.assertEqual(ran, [])

    def test_authentication_failure_fails_closed(self) -> None:
        ran = []

        @require_approval(unique_action("closed"), client=AgentGate(server.url, "agk_wrong", **FAST))
        def f():
            ran.append(1)

        with self.assertRaises(AuthenticationError):
            f()
        self.assertEqual(ran, [])

    def test_unreachable_server_fails_closed(self) -> None:
        proxy = Proxy(server.url)
        dead = proxy.url
        proxy.stop()
        ran = []

        @require_approval("anything", client=AgentGate(dead, "agk_x", max_retries=1, **FAST))
        def f():
            ran.append(1)

        with self.assertRaises(AgentGateConnectionError):
            f()
        self.assertEqual(ran, [])

    def test_async_functions(self) -> None:
        action = unique_action("async")

        @require_approval(action, client=agent, timeout=20)
        async def send(to):
            await asyncio.sleep(0)
            return "sent to " + to

        person = approve_when_pending(action)
        self.assertEqual(asyncio.run(send("bob")), "sent to bob")
        self.assertEqual(person.result().params, {"to": "bob"})

    def test_default_client_comes_from_the_environment(self) -> None:
        import os

        action = unique_action("env")
        old = {k: os.environ.get(k) for k in ("AGENTGATE_URL", "AGENTGATE_API_KEY")}
        os.environ["AGENTGATE_URL"] = server.url
        os.environ["AGENTGATE_API_KEY"] = "agk_wrong-key-from-env"
        try:

            @require_approval(action)
            def f():
                return 1

            with self.assertRaises(AuthenticationError):
                f()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class AuditTests(unittest.TestCase):
    def test_request_trail_and_listing(self) -> None:
        action = unique_action("audited")
        req = agent.request(action)
        decider.decide(req.id, "approved", reason="fine")
        trail = agent.get_request_audit(req.id)
        self.assertEqual([e["eventType"] for e in trail], ["created", "approved"])
        self.assertTrue(all(e["requestId"] == req.id for e in trail))
        page = agent.list_audit_logs(request_id=req.id, event_type="approved")
        self.assertEqual(len(page), 1)
        self.assertEqual(page.total, 1)
        self.assertEqual(page[0]["request"]["action"], action)


class PolicyTests(unittest.TestCase):
    def test_crud_and_dry_run(self) -> None:
        action = unique_action("pol")
        created = admin.create_policy("sdk policy", [{"match": {"action": action}, "decision": "auto_deny"}])
        self.assertEqual(created["priority"], 100)
        self.assertTrue(created["enabled"])
        pid = created["id"]
        self.assertEqual(admin.get_policy(pid)["name"], "sdk policy")
        listed = admin.list_policies()
        self.assertIn(pid, [p["id"] for p in listed])
        self.assertIsInstance(listed.total, int)
        replaced = admin.update_policy(
            pid, "sdk policy v2", [{"match": {"action": action}, "decision": "auto_approve"}], priority=10
        )
        self.assertEqual(replaced["name"], "sdk policy v2")
        self.assertEqual(replaced["priority"], 10)
        patched = admin.patch_policy(pid, enabled=False)
        self.assertFalse(patched["enabled"])
        self.assertEqual(patched["name"], "sdk policy v2")
        one = admin.dry_run(action, policy_id=pid)
        self.assertEqual(one["decision"], "auto_approve")
        self.assertTrue(one["matched"])
        self.assertEqual(admin.dry_run(action)["decision"], "route_to_human")
        admin.delete_policy(pid)
        with self.assertRaises(NotFoundError):
            admin.get_policy(pid)
        with self.assertRaises(NotFoundError):
            admin.delete_policy(pid)
        with self.assertRaises(TypeError):
            admin.patch_policy(pid, colour="red")

    def test_agent_key_may_not_manage_policies(self) -> None:
        with self.assertRaises(ForbiddenError):
            agent.list_policies()


class KeyTests(unittest.TestCase):
    def test_create_list_revoke(self) -> None:
        created = admin.create_api_key("sdk-made", ["request:read"], rate_limit=100)
        self.assertRegex(created["key"], r"^agk_[A-Za-z0-9_-]{43}$")
        self.assertEqual(created["rateLimit"], 100)
        listed = [k for k in admin.list_api_keys() if k["id"] == created["id"]]
        self.assertEqual(len(listed), 1)
        self.assertNotIn("key", listed[0])
        user = AgentGate(server.url, created["key"], **FAST)
        self.assertEqual(user.whoami()["id"], created["id"])
        admin.revoke_api_key(created["id"])
        admin.revoke_api_key(created["id"])  # twice is fine
        with self.assertRaises(AuthenticationError):
            user.whoami()
        with self.assertRaises(NotFoundError):
            admin.revoke_api_key("key_unknown")


class WebhookApiTests(unittest.TestCase):
    def test_create_list_delete_when_the_server_has_them(self) -> None:
        try:
            created = admin.create_webhook("http://127.0.0.1:9/agentgate", ["request.decided"])
        except NotFoundError as err:
            if err.message.startswith("Route "):
                self.skipTest("this server has no /api/webhooks yet")
            raise
        self.assertEqual(created["events"], ["request.decided"])
        self.assertIsInstance(created["secret"], str)
        self.assertIn(created["id"], [w["id"] for w in admin.list_webhooks()])
        self.assertTrue(all("secret" not in w for w in admin.list_webhooks()))
        admin.delete_webhook(created["id"])
        self.assertNotIn(created["id"], [w["id"] for w in admin.list_webhooks()])


    def test_wire_shape(self) -> None:
        # The webhooks API is being built on another branch: pin what the
        # client sends and how it reads the answers, against canned ones.
        import json

        def fault(m, p, n):
            if m == "POST":
                return (201, {}, {"id": "wh_1", "url": "https://h.example/x", "events": ["*"], "enabled": True,
                                  "secret": "s" * 64})
            if m == "GET":
                return (200, {}, {"webhooks": [{"id": "wh_1", "url": "https://h.example/x", "events": ["*"],
                                                "enabled": True}]})
            return (200, {}, {"success": True})

        proxy = Proxy(server.url, fault)
        try:
            c = AgentGate(proxy.url, ADMIN_KEY, **FAST)
            self.assertEqual(c.create_webhook("https://h.example/x", ["*"], secret="t" * 32, enabled=False)["secret"],
                             "s" * 64)
            self.assertEqual([w["id"] for w in c.list_webhooks()], ["wh_1"])
            c.delete_webhook("wh_1")
            sent = [(m, p, json.loads(b) if b else None) for m, p, _, b in proxy.seen]
            self.assertEqual(sent, [
                ("POST", "/api/webhooks", {"url": "https://h.example/x", "events": ["*"], "secret": "t" * 32,
                                           "enabled": False}),
                ("GET", "/api/webhooks", None),
                ("DELETE", "/api/webhooks/wh_1", None),
            ])
        finally:
            proxy.stop()


class ModuleTests(unittest.TestCase):
    def test_public_names(self) -> None:
        for name in agentgate.__all__:
            self.assertTrue(hasattr(agentgate, name), name)


if __name__ == "__main__":
    unittest.main()
