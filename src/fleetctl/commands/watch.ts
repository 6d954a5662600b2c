import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { NodeEventSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import { type CommandContext, opt } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { isoTime } from "../format.js";

const MAX_RETRIES = 10;

/**
 * `fleetctl watch [--after EVENT_ID]`: node events as they happen, one per
 * line, until Ctrl-C. Reconnects after a dropped stream, resuming after the
 * last event printed, so nothing is missed or repeated.
 */
export async function watchCommand(ctx: CommandContext): Promise<void> {
  const afterText = opt(ctx, "after") ?? "0";
  if (!/^\d+$/.test(afterText))
    throw new UsageError(`--after: expected an event id, got "${afterText}"`);
  let after = BigInt(afterText);
  let failures = 0;
  while (!ctx.signal.aborted) {
    try {
      for await (const e of ctx.client.watchNodes(
        { afterEventId: after },
        { signal: ctx.signal },
      )) {
        failures = 0;
        after = e.eventId;
        if (ctx.json) ctx.out(JSON.stringify(toJson(NodeEventSchema, e)));
        else {
          const why = e.reason ? `  (${e.reason})` : "";
          ctx.out(
            `${isoTime(Number(e.time))}  #${e.eventId}  ${e.kind.padEnd(10)}  ${e.nodeId}${why}`,
          );
        }
      }
    } catch (err) {
      if (ctx.signal.aborted) return;
      const ce = ConnectError.from(err);
      const retryable =
        ce.code === Code.Unavailable || ce.code === Code.Unknown || ce.code === Code.Internal;
      if (!retryable || ++failures > MAX_RETRIES) throw err;
      const delay = Math.min(10_000, 250 * 2 ** failures);
      ctx.err(`watch: ${ce.message}; reconnecting after event ${after} in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
