import type { CommandContext } from "../context.js";
import { UsageError } from "../exit-codes.js";

/** `fleetctl delete ID`: removes the node and its metrics. */
export async function deleteCommand(ctx: CommandContext): Promise<void> {
  const [nodeId] = ctx.args;
  if (!nodeId || ctx.args.length > 1) throw new UsageError("usage: fleetctl delete ID");
  await ctx.client.deleteNode({ nodeId }, { signal: ctx.signal, timeoutMs: ctx.timeoutMs });
  ctx.out(ctx.json ? JSON.stringify({ deleted: nodeId }) : `deleted ${nodeId}`);
}
