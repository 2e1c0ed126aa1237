"""verify_webhook against the vectors shared with the TypeScript SDK."""

from __future__ import annotations

import json
import unittest

from _support import VECTORS

from agentgate import DEFAULT_WEBHOOK_TOLERANCE, AgentGate, sign_webhook, verify_webhook, verify_webhook_timestamp

with open(VECTORS, encoding="utf-8") as f:
    _DATA = json.load(f)
CASES = _DATA["vectors"]
TIMESTAMPS = _DATA["timestamps"]


class WebhookVectorTests(unittest.TestCase):
    def test_there_are_valid_and_invalid_vectors(self) -> None:
        self.assertGreaterEqual(sum(1 for v in CASES if v["valid"]), 5)
        self.assertGreaterEqual(sum(1 for v in CASES if not v["valid"]), 5)

    def test_vectors(self) -> None:
        for v in CASES:
            with self.subTest(v["name"]):
                self.assertEqual(verify_webhook(v["secret"], v["header"], v["body"]), v["valid"], "str body")
                body = v["body"].encode("utf-8")
                self.assertEqual(verify_webhook(v["secret"], v["header"], body), v["valid"], "bytes body")
                self.assertEqual(
                    verify_webhook(v["secret"].encode(), v["header"], bytearray(body)), v["valid"], "bytearray"
                )

    def test_missing_or_list_header(self) -> None:
        v = next(x for x in CASES if x["valid"] and x["secret"] != "Jefe")
        self.assertFalse(verify_webhook(v["secret"], None, v["body"]))
        self.assertTrue(verify_webhook(v["secret"], [v["header"]], v["body"]))
        self.assertTrue(verify_webhook(v["secret"], ["sha256=" + "0" * 64, v["header"]], v["body"]))
        self.assertFalse(verify_webhook(v["secret"], [], v["body"]))

    def test_timestamp_vectors(self) -> None:
        for c in TIMESTAMPS["cases"]:
            with self.subTest(c["name"]):
                got = verify_webhook_timestamp(c["header"], c["toleranceMs"] / 1000, now=TIMESTAMPS["now"])
                self.assertEqual(got, c["valid"])

    def test_timestamp_default_tolerance_and_missing(self) -> None:
        import time

        self.assertEqual(DEFAULT_WEBHOOK_TOLERANCE, 300)
        self.assertTrue(verify_webhook_timestamp(str(int(time.time()))))
        self.assertFalse(verify_webhook_timestamp(None))

    def test_sign_then_verify(self) -> None:
        body = json.dumps({"event": "test", "data": {"message": "hi"}, "timestamp": 1})
        header = sign_webhook("s3cret-s3cret-s3cret-s3cret-s3cret", body)
        self.assertRegex(header, r"^sha256=[0-9a-f]{64}$")
        self.assertTrue(verify_webhook("s3cret-s3cret-s3cret-s3cret-s3cret", header, body))
        self.assertFalse(verify_webhook("s3cret-s3cret-s3cret-s3cret-s3cret", header, body + " "))
        self.assertIs(AgentGate.verify_webhook, verify_webhook)


if __name__ == "__main__":
    unittest.main()
