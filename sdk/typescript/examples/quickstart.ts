// Type-checked by `npm run build` (tsc -p tsconfig.examples.json): the
// README's examples, against the published entry point.
import { AgentGateClient, ApprovalDeniedError, actionParams, verifyWebhook, verifyWebhookTimestamp } from "@agentgate/sdk";

export async function quickstart(): Promise<void> {
  const gate = new AgentGateClient({ baseUrl: "http://localhost:3000", apiKey: process.env["AGENTGATE_API_KEY"] ?? "" });
  const req = await gate.requestAndWait({ action: "send_email", params: { to: "bob@example.com" } });
  if (req.status === "approved") console.log("sending to", actionParams(req)["to"]);
}

export async function guarded(gate: AgentGateClient): Promise<string> {
  try {
    return await gate.withApproval("deploy", async (receipt) => `deployed to ${String(receipt.params["env"])} after ${receipt.decidedBy ?? "policy"}`, {
      params: { env: "prod" },
      urgency: "high",
      timeoutMs: 10 * 60_000,
    });
  } catch (err) {
    if (err instanceof ApprovalDeniedError) return `not deployed: ${err.status} ${err.reason ?? ""}`;
    throw err;
  }
}

export async function approveEdited(approver: AgentGateClient, id: string): Promise<string[]> {
  const req = await approver.decide(id, {
    decision: "approved",
    params: { amount: 100 },
    grant: { duration: "1h", maxUses: 10, conditions: { "params.amount": { $lte: 100 } } },
  });
  const results = await approver.decideBatch([id], { decision: "denied", reason: "cleanup" });
  const grants = await approver.listGrants({ action: req.action, activeOnly: true });
  return [...results.map((r) => r.error ?? ""), ...grants.map((g) => g.id), req.approvals ? `${req.approvals.received}/${req.approvals.required}` : ""];
}

export async function pages(gate: AgentGateClient): Promise<number> {
  const page = await gate.listRequests({ status: "pending", limit: 10 });
  let n = page.pagination.total;
  for await (const r of gate.iterateRequests({ action: "deploy" })) n += r.params ? 1 : 0;
  return n;
}

export function onWebhook(secret: string, signature: string | undefined, timestamp: string | undefined, body: Buffer): boolean {
  return verifyWebhook(secret, signature, body) && verifyWebhookTimestamp(timestamp);
}
