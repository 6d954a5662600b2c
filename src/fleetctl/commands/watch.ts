import { setTimeout as delay } from "node:timers/promises";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { NodeEventSchema } from "../../../gen/fleet/v1/fleet_pb.js";
import { type CommandContext, opt } from "../context.js";
import { UsageError } from "../exit-codes.js";
import { isoTime } from "../format.js";

/** Consecutive failed connections before giving up. */
const MAX_RETRIES = 10;
/** A stream open at least this long counts as healthy even without events (quiet fleet). */
const HEALTHY_STREAM_MS = 30_000;

const backoffMs = (attempt: number) => Math.min(10_000, 250 * 2 ** attempt);

/** Waits `ms`, or less when the signal aborts (Ctrl-C must not wait out a backoff). */
async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the caller's loop sees signal.aborted.
  }
}

/**
 * `fleetctl watch [--after EVENT_ID]`: node events as they happen, one per
 * line, until Ctrl-C. Reconnects after a dropped or ended stream, resuming
 * after the last event printed, so nothing is missed or repeated. Reconnects
 * back off (0.5 s doubling to 10 s); a stream that delivered events or stayed
 * open a while resets the backoff. Only errors count toward giving up.
 */
export async function watchCommand(ctx: CommandContext): Promise<void> {
  const afterText = opt(ctx, "after") ?? "0";
  if (!/^\d+$/.test(afterText))
    throw new UsageError(`--after: expected an event id, got "${afterText}"`);
  let after = BigInt(afterText);
  // Say so at once (stderr, so --json output stays one event per line).
  ctx.err(`watching node events${after > 0n ? ` after #${after}` : ""}; Ctrl-C to stop`);
  let failures = 0;
  let attempt = 0;
  while (!ctx.signal.aborted) {
    const opened = Date.now();
    let delivered = false;
    let reason: string;
    try {
      for await (const e of ctx.client.watchNodes(
        { afterEventId: after },
        { signal: ctx.signal },
      )) {
        // A keepalive only moves the resume point; it is not an event to show.
        if (e.kind === "keepalive") {
          after = e.eventId;
          continue;
        }
        delivered = true;
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
      if (ctx.signal.aborted) return;
      reason = "stream ended";
    } catch (err) {
      if (ctx.signal.aborted) return;
      const ce = ConnectError.from(err);
      const retryable =
        ce.code === Code.Unavailable || ce.code === Code.Unknown || ce.code === Code.Internal;
      if (!retryable || ++failures > MAX_RETRIES) throw err;
      reason = ce.message;
    }
    if (delivered || Date.now() - opened >= HEALTHY_STREAM_MS) attempt = 0;
    const wait = backoffMs(++attempt);
    ctx.err(`watch: ${reason}; reconnecting after event ${after} in ${wait} ms`);
    await sleep(wait, ctx.signal);
  }
}
