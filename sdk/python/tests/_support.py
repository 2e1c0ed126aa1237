"""Test harness: runs the real AgentGate server (the Go binary) on a
temporary SQLite database, and an HTTP proxy in front of it that injects
faults (dropped connections, 5xx, 429) for the retry tests."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SDK_DIR = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(SDK_DIR))
if SDK_DIR not in sys.path:
    sys.path.insert(0, SDK_DIR)

ADMIN_KEY = "sdk-test-admin-key-0123456789"
VECTORS = os.path.join(REPO_ROOT, "sdk", "testdata", "webhook_vectors.json")


class Server:
    """The real server on a free port (PORT=0; the address is read from its
    JSON log line "AgentGate is listening")."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="agentgate-sdk-py-")
        binary = os.environ.get("AGENTGATE_BIN")
        if not binary:
            binary = os.path.join(self.dir, "agentgate")
            subprocess.run(["go", "build", "-o", binary, "./cmd/agentgate"], cwd=REPO_ROOT, check=True)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "HOST": "127.0.0.1",
            "PORT": "0",
            "DATABASE_URL": os.path.join(self.dir, "agentgate.db"),
            "ADMIN_API_KEY": ADMIN_KEY,
            "AGENTGATE_ACCESS_LOG": "false",
            "AGENTGATE_LOG_FORMAT": "json",
            # The webhook tests subscribe a loopback URL (no DNS offline).
            "AGENTGATE_WEBHOOK_ALLOW_PRIVATE": "true",
        }
        self.proc = subprocess.Popen(
            [binary, "server"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.url = self._await_address()
        # Keep draining the log so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def _await_address(self) -> str:
        found: dict = {}
        log: list = []

        def read() -> None:
            for line in self.proc.stderr:
                log.append(line)
                m = re.search(r'"msg":"AgentGate is listening","addr":"([^"]+)"', line)
                if m:
                    found["addr"] = m.group(1)
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(30)
        if "addr" not in found:
            self.stop()
            raise RuntimeError("the server did not start:\n" + "".join(log))
        return "http://" + found["addr"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_key(self, name: str, scopes: list) -> str:
        """Creates a key through the API and returns its secret."""
        req = urllib.request.Request(
            self.url + "/api/keys",
            data=json.dumps({"name": name, "scopes": scopes}).encode(),
            headers={"Authorization": "Bearer " + ADMIN_KEY, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read())["key"]


class Proxy:
    """A proxy to target. fault(method, path, n) (n counts requests with the
    same method and path, from 1) returns None to forward, "drop" to close
    the connection unanswered, "forward-drop" to forward and then close
    without answering (a lost answer), or (status, headers, body) to answer
    that instead. ``seen`` records (method, path, headers, body)."""

    def __init__(self, target: str, fault=lambda method, path, n: None) -> None:
        self.seen: list = []
        self._counts: dict = {}
        self._lock = threading.Lock()
        target_netloc = urllib.parse.urlsplit(target).netloc
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path_only = self.path.split("?")[0]
                with proxy._lock:
                    key = (self.command, path_only)
                    n = proxy._counts.get(key, 0) + 1
                    proxy._counts[key] = n
                    proxy.seen.append((self.command, self.path, dict(self.headers), body))
                action = fault(self.command, self.path, n)
                if action == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(action, tuple):
                    status, headers, payload = action
                    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection(target_netloc, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                res = conn.getresponse()
                data = res.read()
                conn.close()
                if action == "forward-drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def count(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p, _, _ in self.seen if m == method and p.startswith(path_prefix))

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def unique_action(prefix: str) -> str:
    """A unique action name: tests sharing a server do not see each other's requests."""
    tail = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return "%s.%d.%s" % (prefix, int(time.time() * 1000), tail)


class Later:
    """Runs fn in a thread after seconds; result() joins it and returns its
    value or raises its exception."""

    def __init__(self, seconds: float, fn) -> None:
        self._out: dict = {}

        def run() -> None:
            time.sleep(seconds)
            try:
                self._out["value"] = fn()
            except BaseException as err:  # re-raised in result()
                self._out["error"] = err

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float = 30):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the background call did not finish")
        if "error" in self._out:
            raise self._out["error"]
        return self._out.get("value")
