import type { Logger } from "../../common/logging.js";
import type { Collector } from "../collectors/collector.js";
import { unixSeconds } from "../collectors/collector.js";
import type { LimitedLog } from "../log-limit.js";
import type { Spool } from "../spool/spool.js";
import { sleep } from "./timing.js";

export interface CollectLoopOptions {
  collector: Collector;
  intervalMs: number;
  spool: Spool;
  signal: AbortSignal;
  logger: Logger;
  log: LimitedLog;
}

/**
 * Collects on a fixed schedule (ticks do not drift with collection time) and
 * spools each round before anything is sent. A failing collector is logged,
 * rate-limited, and the others go on. A round never reuses the previous
 * round's second: the manager keys rows by timestamp, so it would overwrite nothing
 * and the round would be silently lost.
 */
export async function runCollectLoop(o: CollectLoopOptions): Promise<void> {
  let next = Date.now();
  let lastTs = -1;
  while (!o.signal.aborted) {
    await sleep(next - Date.now(), o.signal);
    if (o.signal.aborted) break;
    const now = new Date();
    next += o.intervalMs;
    if (next < Date.now()) next = Date.now() + o.intervalMs;
    if (unixSeconds(now) <= lastTs) continue;
    try {
      const samples = await o.collector.collect(now);
      if (samples.length === 0) continue;
      const batch = await o.spool.append(samples);
      lastTs = unixSeconds(now);
      o.logger.debug(
        { type: o.collector.type, seq: batch.seq, ts: lastTs, samples: samples.length },
        "spooled",
      );
    } catch (err) {
      o.log(
        "warn",
        `collector:${o.collector.type}`,
        { type: o.collector.type, err: (err as Error).message },
        `collector ${o.collector.type} failed; the others go on`,
      );
    }
  }
}
