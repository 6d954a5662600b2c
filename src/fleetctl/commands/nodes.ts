import { toJson } from "@bufbuild/protobuf";
import { type Node, NodeSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import { type CommandContext, opt } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { ago, labelText, table } from "../format.js";
import { parseSort } from "../sort.js";

/** `fleetctl nodes [--status S] [--selector SEL] [--sort KEY] [--limit N]`: an aligned table of nodes. */
export async function nodesCommand(ctx: CommandContext): Promise<void> {
  const { orderBy, descending } = parseSort(opt(ctx, "sort"), "node_id");
  const status = opt(ctx, "status") ?? "";
  const selector = opt(ctx, "selector") ?? "";
  const limit = Number(opt(ctx, "limit") ?? "1000");
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`--limit: must be a positive integer, got "${opt(ctx, "limit")}"`);
  }
  const nodes: Node[] = [];
  let total = 0n;
  let token = "";
  // Keyset pages of up to 1000; bounded by --limit.
  while (nodes.length < limit) {
    const res = await ctx.client.listNodes(
      {
        status,
        selector,
        orderBy,
        descending,
        pageSize: Math.min(1000, limit - nodes.length),
        pageToken: token,
      },
      { signal: ctx.signal, timeoutMs: ctx.timeoutMs },
    );
    nodes.push(...res.nodes);
    total = res.total;
    token = res.nextPageToken;
    if (!token) break;
  }
  if (ctx.json) {
    ctx.out(
      JSON.stringify({ nodes: nodes.map((n) => toJson(NodeSchema, n)), total: String(total) }),
    );
    return;
  }
  const rows = [
    ["NODE", "STATUS", "HOSTNAME", "IP", "OS/ARCH", "VERSION", "LAST SEEN", "LABELS"],
    ...nodes.map((n) => [
      n.nodeId,
      n.status,
      n.hostname || "-",
      n.ip || "-",
      `${n.os || "?"}/${n.arch || "?"}`,
      n.daemonVersion || "-",
      ago(Number(n.lastSeenAt)),
      labelText(n.labels),
    ]),
  ];
  ctx.out(table(rows));
  if (BigInt(nodes.length) < total) {
    ctx.err(`showing ${nodes.length} of ${total} nodes (raise --limit to see more)`);
  }
}
