"""Client behaviour that needs no server."""

from __future__ import annotations

import datetime as dt
import os
import unittest

import _support  # noqa: F401  (puts the SDK on sys.path)

from agentgate import AgentGate, ApprovalDenied, ApprovalEdited, ApprovalRequest, Grant, errors
from agentgate.client import json_equal


class ConstructorTests(unittest.TestCase):
    def test_needs_url_and_key(self) -> None:
        saved = {k: os.environ.pop(k, None) for k in ("AGENTGATE_URL", "AGENTGATE_API_KEY")}
        try:
            with self.assertRaisesRegex(ValueError, "api_key is required"):
                AgentGate("http://x")
            with self.assertRaisesRegex(ValueError, "base_url is required"):
                AgentGate(api_key="k")
            with self.assertRaisesRegex(ValueError, "http"):
                AgentGate("ftp://x", "k")
            with self.assertRaisesRegex(ValueError, "max_retries"):
                AgentGate("http://x", "k", max_retries=-1)
            os.environ["AGENTGATE_URL"] = "http://gate.internal:3000///"
            os.environ["AGENTGATE_API_KEY"] = "agk_from_env"
            self.assertEqual(AgentGate().base_url, "http://gate.internal:3000")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def test_repr_never_shows_the_key(self) -> None:
        self.assertNotIn("agk_secret", repr(AgentGate("http://x", "agk_secret")))


class ErrorTests(unittest.TestCase):
    def test_status_mapping(self) -> None:
        cases = {
            400: errors.BadRequestError,
            401: errors.AuthenticationError,
            403: errors.ForbiddenError,
            404: errors.NotFoundError,
            409: errors.ConflictError,
            413: errors.BadRequestError,
            422: errors.BadRequestError,
            429: errors.RateLimitError,
            500: errors.ServerError,
            503: errors.ServerError,
            418: errors.AgentGateError,
        }
        for status, cls in cases.items():
            with self.subTest(status):
                err = errors.error_for_status(status, "m", "rid")
                self.assertIs(type(err), cls)
                self.assertEqual((err.status, err.message, err.request_id), (status, "m", "rid"))

    def test_no_agentgate_error_is_an_oserror(self) -> None:
        # An `except OSError` (or ConnectionError / PermissionError) written
        # for other code must not swallow an AgentGate failure.
        for cls in (errors.ForbiddenError, errors.AgentGateConnectionError, errors.AuthenticationError):
            self.assertFalse(issubclass(cls, OSError), cls)

    def test_approval_denied_carries_the_request(self) -> None:
        req = ApprovalRequest(id="req_1", action="deploy", status="denied", decisionReason="too risky")
        err = ApprovalDenied(req)
        self.assertIs(err.request, req)
        self.assertEqual(err.status, "denied")
        self.assertEqual(err.reason, "too risky")
        self.assertIn("too risky", str(err))


class ApprovalRequestTests(unittest.TestCase):
    def test_attribute_and_item_access_agree(self) -> None:
        r = ApprovalRequest(id="req_1", action="a", status="approved", params={"x": 1}, decidedBy="key_1")
        self.assertEqual(r.status, r["status"])
        self.assertTrue(r.approved)
        self.assertTrue(r.is_decided)
        self.assertEqual(r.params, {"x": 1})
        self.assertEqual(r.context, {})
        self.assertEqual(r.decided_by, "key_1")
        self.assertIsNone(r.approved_params)
        self.assertEqual(r.action_params, {"x": 1})
        self.assertFalse(r.params_edited)
        self.assertIsNone(r.approvals)
        self.assertEqual(r.escalation_level, 0)
        self.assertIsNone(r.grant_id)

    def test_action_params_and_edits(self) -> None:
        r = ApprovalRequest(params={"x": 1, "y": [1, {"z": True}]}, approvedParams={"y": [1, {"z": True}], "x": 1.0},
                            approvals={"required": 2, "received": 1}, escalationLevel=2, grantId="grt_1",
                            decidedByType="grant")
        self.assertFalse(r.params_edited, "the same values in another key order are not an edit")
        self.assertEqual(r.action_params, r.approved_params)
        self.assertEqual((r.approvals["received"], r.escalation_level, r.grant_id, r.decided_by_type),
                         (1, 2, "grt_1", "grant"))
        self.assertEqual(ApprovalRequest(params={"x": 1}, approvedParams={}).action_params, {},
                         "an edit that removed every param is still the edit")
        self.assertTrue(ApprovalRequest(params={"x": 1}, approvedParams={"x": 2}).params_edited)

    def test_json_equal(self) -> None:
        self.assertTrue(json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]}))
        self.assertFalse(json_equal({"a": True}, {"a": 1}), "a bool is not a number")
        self.assertFalse(json_equal({"a": "1"}, {"a": 1}))
        self.assertFalse(json_equal([1, 2], [2, 1]))
        self.assertFalse(json_equal({"a": 1}, {"a": 1, "b": None}))
        self.assertFalse(json_equal({}, []))


class GrantTests(unittest.TestCase):
    def test_wire_form(self) -> None:
        cases = [
            (Grant(3600), {"duration": "3600s"}),
            (Grant(1.5), {"duration": "1500ms"}),
            (Grant(dt.timedelta(minutes=10), max_uses=3), {"duration": "600s", "maxUses": 3}),
            (Grant(" 1h30m ", conditions={"params.amount": {"$lte": 100}}),
             {"duration": "1h30m", "conditions": {"params.amount": {"$lte": 100}}}),
        ]
        for grant, want in cases:
            with self.subTest(grant=grant):
                self.assertEqual(grant.to_wire(), want)
        for bad in (Grant("1 hour"), Grant("3600"), Grant(0), Grant(-1), Grant(float("inf")), Grant("1h", max_uses=0),
                    Grant("1h", max_uses=True)):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                bad.to_wire()
        for bad in (Grant(None), Grant(True), Grant("1h", conditions=[])):  # type: ignore[arg-type]
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                bad.to_wire()

    def test_approval_edited_carries_the_request(self) -> None:
        req = ApprovalRequest(id="req_1", action="refund", status="approved", params={"a": 1}, approvedParams={"a": 2})
        err = ApprovalEdited(req, "its params came from params=")
        self.assertIs(err.request, req)
        self.assertEqual((err.requested_params, err.approved_params), ({"a": 1}, {"a": 2}))
        self.assertIn("req_1", str(err))
        self.assertIn("was not run", str(err))
        self.assertNotIsInstance(err, ApprovalDenied)
        self.assertNotIsInstance(err, errors.AgentGateError)


if __name__ == "__main__":
    unittest.main()
