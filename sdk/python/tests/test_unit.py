"""Client behaviour that needs no server."""

from __future__ import annotations

import os
import unittest

import _support  # noqa: F401  (puts the SDK on sys.path)

from agentgate import AgentGate, ApprovalDenied, ApprovalRequest, errors


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


if __name__ == "__main__":
    unittest.main()
