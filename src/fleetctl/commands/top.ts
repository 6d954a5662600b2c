import { toJson } from "@bufbuild/protobuf";
import { NodeSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import { type CommandContext, opt } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { ago, bytes, pctCell, table } from "../format.js";
import { parseSort } from "../sort.js";

/**
 * `fleetctl top [--sort cpu] [--selector SEL] [--status S] [--limit 20]`: the
 * nodes using the most, like `kubectl top nodes`, from each node's newest usage.
 */
export async function topCommand(ctx: CommandContext): Promise<void> {
  if (ctx.args.length > 0)
    throw new UsageError("usage: fleetctl top [--sort cpu] [--selector SEL]");
  const { orderBy, descending } = parseSort(opt(ctx, "sort"), "cpu");
  const limit = Number(opt(ctx, "limit") ?? "20");
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UsageError(`--limit: must be an integer from 1 to 1000, got "${opt(ctx, "limit")}"`);
  }
  const res = await ctx.client.listNodes(
    {
      status: opt(ctx, "status") ?? "",
      selector: opt(ctx, "selector") ?? "",
      orderBy,
      descending,
      pageSize: limit,
    },
    { signal: ctx.signal, timeoutMs: ctx.timeoutMs },
  );
  if (ctx.json) {
    ctx.out(
      JSON.stringify({
        nodes: res.nodes.map((n) => toJson(NodeSchema, n)),
        total: String(res.total),
      }),
    );
    return;
  }
  const rate = (v: number | undefined) => (v === undefined ? "-" : `${bytes(v)}/s`);
  ctx.out(
    table([
      ["NODE", "STATUS", "CPU", "MEMORY", "DISK", "NET RX", "NET TX", "SAMPLED"],
      ...res.nodes.map((n) => [
        n.nodeId,
        n.status,
        pctCell(n.usage?.cpuPercent),
        pctCell(n.usage?.memoryPercent),
        pctCell(n.usage?.diskPercent),
        rate(n.usage?.networkRxBytesPerSecond),
        rate(n.usage?.networkTxBytesPerSecond),
        n.usage ? ago(Number(n.usage.sampledAt)) : "never",
      ]),
    ]),
  );
  if (BigInt(res.nodes.length) < res.total) {
    ctx.err(`top ${res.nodes.length} of ${res.total} nodes by ${orderBy} (--limit to see more)`);
  }
}
