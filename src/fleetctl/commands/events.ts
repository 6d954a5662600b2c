import { toJson } from "@bufbuild/protobuf";
import { type NodeEvent, NodeEventSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import { type CommandContext, opt } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { isoTime } from "../format.js";

/** `fleetctl events [ID] [--limit 50]`: the recorded history, newest first (the fleet's without ID). */
export async function eventsCommand(ctx: CommandContext): Promise<void> {
  if (ctx.args.length > 1) throw new UsageError("usage: fleetctl events [ID] [--limit 50]");
  const nodeId = ctx.args[0] ?? "";
  const limit = Number(opt(ctx, "limit") ?? "50");
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError(`--limit: must be a positive integer, got "${opt(ctx, "limit")}"`);
  }
  const events: NodeEvent[] = [];
  let pageToken = "";
  while (events.length < limit) {
    const res = await ctx.client.listNodeEvents(
      { nodeId, pageSize: Math.min(1000, limit - events.length), pageToken },
      { signal: ctx.signal, timeoutMs: ctx.timeoutMs },
    );
    events.push(...res.events);
    pageToken = res.nextPageToken;
    if (!pageToken) break;
  }
  if (ctx.json) {
    for (const e of events) ctx.out(JSON.stringify(toJson(NodeEventSchema, e)));
    return;
  }
  if (events.length === 0) {
    ctx.err(nodeId ? `no events recorded for ${nodeId}` : "no events recorded");
    return;
  }
  for (const e of events) {
    const why = e.reason ? `  (${e.reason})` : "";
    ctx.out(`${isoTime(Number(e.time))}  #${e.eventId}  ${e.kind.padEnd(10)}  ${e.nodeId}${why}`);
  }
  if (pageToken) ctx.err(`showing the newest ${events.length} events (raise --limit to see more)`);
}
