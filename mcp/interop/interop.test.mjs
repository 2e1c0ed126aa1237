// Interoperability of AgentGate's MCP pieces with the official TypeScript
// SDK (@modelcontextprotocol/sdk) as the client, and end to end through the
// gateway with a real third-party server (@modelcontextprotocol/server-filesystem).
//
// Run: npm ci && node --test   (AGENTGATE_BIN=path/to/agentgate, else it
// is built with `go build` from the repository).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, existsSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..", "..");
const require = createRequire(import.meta.url);
const filesystemServer = join(dirname(require.resolve("@modelcontextprotocol/server-filesystem/package.json")), "dist", "index.js");

const ADMIN = "interop-admin-key-0123456789";
const work = mkdtempSync(join(tmpdir(), "agentgate-interop-"));
let bin, server, url, agentKey;
const clients = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function api(method, path, body, key = ADMIN) {
  const res = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// The first pending request with action, once the tool call under test
// (running concurrently) has created it.
async function pending(action) {
  for (let i = 0; i < 500; i++) {
    const { requests } = await api("GET", `/api/requests?status=pending&action=${encodeURIComponent(action)}&limit=1`);
    if (requests.length > 0) return requests[0];
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no pending ${action} request appeared`);
}

const decide = (id, decision, reason) => api("POST", `/api/requests/${id}/decide`, { decision, reason });

// connect runs `agentgate ...args` as a stdio MCP server for a TS client.
async function connect(args) {
  const transport = new StdioClientTransport({
    command: bin,
    args,
    env: { AGENTGATE_URL: url, AGENTGATE_API_KEY: agentKey, PATH: process.env.PATH },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += d));
  const client = new Client({ name: "ts-interop", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  return { client, stderr: () => stderr };
}

const textOf = (res) => res.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");

before(async () => {
  bin = process.env.AGENTGATE_BIN;
  if (!bin) {
    bin = join(work, "agentgate");
    execFileSync("go", ["build", "-o", bin, "./cmd/agentgate"], { cwd: repo, stdio: "inherit" });
  }
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  server = spawn(bin, ["server"], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: join(work, "agentgate.db"),
      ADMIN_API_KEY: ADMIN,
      AGENTGATE_ACCESS_LOG: "false",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url + "/health")).ok) break;
    } catch {}
    if (i > 300) throw new Error("agentgate server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  ({ key: agentKey } = await api("POST", "/api/keys", { name: "ts-agent", scopes: ["request:create", "request:read"] }));
  // Reads through the gateway are safe; everything else asks a person.
  await api("POST", "/api/policies", {
    name: "interop",
    rules: [
      { match: { action: "deploy.auto" }, decision: "auto_approve" },
      ...["read_text_file", "read_file", "list_directory", "list_allowed_directories", "get_file_info"].map((t) => ({
        match: { action: `mcp.fs.${t}` },
        decision: "auto_approve",
      })),
    ],
  });
});

after(async () => {
  for (const c of clients) await c.close().catch(() => {});
  server?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

test("agentgate mcp: the TypeScript client lists and calls the approval tools", async () => {
  const { client } = await connect(["mcp", "--heartbeat", "100ms"]);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ["check_request", "list_requests", "request_approval", "wait_for_decision"]);
  const ask = tools.find((t) => t.name === "request_approval");
  assert.deepEqual(ask.inputSchema.required, ["action"]);
  assert.ok(ask.outputSchema, "structured output is declared");

  // A policy approves at once; the SDK validates structuredContent against the output schema.
  let res = await client.callTool({ name: "request_approval", arguments: { action: "deploy.auto", params: { env: "prod" } } });
  assert.equal(res.isError, undefined);
  assert.equal(res.structuredContent.status, "approved");
  assert.equal(res.structuredContent.decidedByType, "policy");
  assert.match(textOf(res), /^approved by policy/);

  // A person decides while the agent waits; progress keeps the call alive.
  res = await client.callTool({ name: "request_approval", arguments: { action: "deploy.prod", urgency: "high" } });
  const id = res.structuredContent.id;
  assert.equal(res.structuredContent.status, "pending");
  assert.match(textOf(res), new RegExp(`call wait_for_decision with id ${id}`));
  const progress = [];
  const waiting = client.callTool({ name: "wait_for_decision", arguments: { id, timeout_seconds: 30 } }, undefined, {
    onprogress: (p) => progress.push(p),
    resetTimeoutOnProgress: true,
  });
  while (progress.length === 0) await new Promise((r) => setTimeout(r, 20));
  await decide(id, "approved", "go ahead");
  res = await waiting;
  assert.equal(res.structuredContent.status, "approved");
  assert.equal(res.structuredContent.approved, true);
  assert.equal(res.structuredContent.reason, "go ahead");
  assert.match(textOf(res), /^approved by admin \(ADMIN_API_KEY\): go ahead/);
  assert.ok(progress[0].progress > 0 && progress[0].total === 30, JSON.stringify(progress[0]));

  res = await client.callTool({ name: "check_request", arguments: { id } });
  assert.equal(res.structuredContent.status, "approved");
  res = await client.callTool({ name: "list_requests", arguments: { status: "approved", limit: 5 } });
  assert.ok(res.structuredContent.requests.some((r) => r.id === id));

  res = await client.callTool({ name: "check_request", arguments: { id: "req_missing" } });
  assert.equal(res.isError, true);
});

test("/mcp: the TypeScript client over streamable HTTP (stateless)", async () => {
  const transport = new StreamableHTTPClientTransport(new URL(url + "/mcp"), {
    requestInit: { headers: { Authorization: `Bearer ${agentKey}` } },
  });
  const client = new Client({ name: "ts-http", version: "1.0.0" });
  await client.connect(transport);
  clients.push(client);
  const { tools } = await client.listTools();
  assert.equal(tools.length, 4);
  const res = await client.callTool({ name: "request_approval", arguments: { action: "deploy.auto" } });
  assert.equal(res.structuredContent.status, "approved");
});

test("agentgate mcp proxy in front of @modelcontextprotocol/server-filesystem", async () => {
  const dir = mkdtempSync(join(work, "fs-"));
  writeFileSync(join(dir, "hello.txt"), "hello from disk\n");
  const { client, stderr } = await connect(["mcp", "proxy", "--name", "fs", "--heartbeat", "100ms", "--", process.execPath, filesystemServer, dir]);

  // The filesystem server's tools, unchanged, annotations included.
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const t of ["read_text_file", "write_file", "list_directory", "edit_file"]) assert.ok(names.includes(t), `${t} in ${names}`);
  assert.equal(tools.find((t) => t.name === "read_text_file").annotations.readOnlyHint, true);
  assert.equal(tools.find((t) => t.name === "write_file").annotations.destructiveHint, true);

  // A read is approved by policy and happens at once.
  let res = await client.callTool({ name: "read_text_file", arguments: { path: join(dir, "hello.txt") } });
  assert.ok(!res.isError, textOf(res));
  assert.match(textOf(res), /hello from disk/);
  const [read] = (await api("GET", "/api/requests?action=mcp.fs.read_text_file")).requests;
  assert.equal(read.status, "approved");
  assert.equal(read.context.mcp.annotations.readOnlyHint, true);
  assert.equal(read.context.mcp.client.name, "ts-interop");
  assert.equal(read.context.mcp.server.name, "secure-filesystem-server");

  // A write waits for a person; nothing is written before the approval.
  const target = join(dir, "approved.txt");
  const progress = [];
  const writing = client.callTool({ name: "write_file", arguments: { path: target, content: "written after approval" } }, undefined, {
    onprogress: (p) => progress.push(p),
    resetTimeoutOnProgress: true,
  });
  const w = await pending("mcp.fs.write_file");
  assert.deepEqual(w.params, { path: target, content: "written after approval" });
  assert.equal(w.context.mcp.annotations.destructiveHint, true);
  while (progress.length === 0) await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(target), false, "written before approval");
  await decide(w.id, "approved", "fine");
  res = await writing;
  assert.ok(!res.isError, textOf(res));
  assert.equal(readFileSync(target, "utf8"), "written after approval");

  // A denied write does not happen, and the model hears who and why.
  const refused = join(dir, "denied.txt");
  const denying = client.callTool({ name: "write_file", arguments: { path: refused, content: "never" } });
  const d = await pending("mcp.fs.write_file");
  await decide(d.id, "denied", "not in this folder");
  res = await denying;
  assert.equal(res.isError, true);
  assert.match(textOf(res), /denied by admin \(ADMIN_API_KEY\): not in this folder; the call to write_file was not executed/);
  assert.equal(existsSync(refused), false, "a denied write happened");

  assert.ok(!stderr().includes(agentKey), "the API key leaked to stderr");
});
