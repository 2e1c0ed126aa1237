// Test harness: runs the real AgentGate server (the Go binary) on a
// temporary SQLite database, and an HTTP proxy in front of it that can
// inject faults (dropped connections, 5xx, 429) for the retry tests.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");
export const ADMIN_KEY = "sdk-test-admin-key-0123456789";

/**
 * The server binary: $AGENTGATE_BIN (sdk/test.sh builds it once), else
 * built here into dir.
 */
function binary(dir) {
  const fromEnv = process.env.AGENTGATE_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`AGENTGATE_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  const out = path.join(dir, "agentgate");
  execFileSync("go", ["build", "-o", out, "./cmd/agentgate"], { cwd: repoRoot, stdio: "inherit" });
  return out;
}

/**
 * Starts the server on a free port and returns {url, stop, createKey}.
 * PORT=0 lets the kernel pick the port; the server logs the address it
 * listens on, which we read from its JSON log.
 */
export async function startServer(extraEnv = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "agentgate-sdk-ts-"));
  const bin = binary(dir);
  const child = spawn(bin, ["server"], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: "127.0.0.1",
      PORT: "0",
      DATABASE_URL: path.join(dir, "agentgate.db"),
      ADMIN_API_KEY: ADMIN_KEY,
      AGENTGATE_ACCESS_LOG: "false",
      AGENTGATE_LOG_FORMAT: "json",
      // The webhook tests subscribe a loopback URL (no DNS offline).
      AGENTGATE_WEBHOOK_ALLOW_PRIVATE: "true",
      ...extraEnv,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 30s:\n${log}`)), 30_000);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /"msg":"AgentGate is listening","addr":"([^"]+)"/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
    /** Creates a key through the API (as an agent's operator would) and returns its secret. */
    async createKey(name, scopes) {
      const res = await fetch(`${url}/api/keys`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name, scopes }),
      });
      const body = await res.json();
      if (res.status !== 201) throw new Error(`create key: ${res.status} ${JSON.stringify(body)}`);
      return body.key;
    },
  };
}

/**
 * A proxy to target. For each incoming request, fault(req, n) (n counts
 * requests with the same method and path, from 1) returns one of:
 *   undefined      forward normally
 *   "drop"         close the connection without forwarding
 *   "forward-drop" forward, let the server act, then close the connection
 *                  without answering (a lost answer)
 *   {status, headers?, body?, raw?}  answer that instead of forwarding
 *                  (body is sent as JSON, raw as is)
 * `seen` records every request: {method, path, headers, body}.
 */
export async function startProxy(target, fault = () => undefined) {
  const seen = [];
  const counts = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const key = `${req.method} ${req.url.split("?")[0]}`;
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      seen.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const action = fault(req, n);
      if (action === "drop") {
        req.socket.destroy();
        return;
      }
      if (action && typeof action === "object") {
        res.writeHead(action.status, { "Content-Type": "application/json", ...(action.headers ?? {}) });
        res.end(action.raw ?? (action.body === undefined ? "" : JSON.stringify(action.body)));
        return;
      }
      const up = http.request(
        new URL(req.url, target),
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (upRes) => {
          if (action === "forward-drop") {
            upRes.resume();
            upRes.on("end", () => req.socket.destroy());
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on("error", () => req.socket.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    count(method, pathPrefix) {
      return seen.filter((s) => s.method === method && s.path.startsWith(pathPrefix)).length;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A unique action name, so that tests sharing a server do not see each other's requests. */
export function uniqueAction(prefix) {
  return `${prefix}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}
