import type { Logger } from "../../common/logging.js";
import type { MetricSample } from "../../common/types.js";
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
  /** How long one collect() may take; default min(interval, 10 s). */
  timeoutMs?: number;
}

/** The longest a single collect() may run (a hung `df` on a dead NFS mount must not stall the loop). */
export const MAX_COLLECT_MS = 10_000;

export class CollectTimeoutError extends Error {
  constructor(type: string, ms: number) {
    super(`collector ${type} did not finish within ${ms} ms`);
    this.name = "CollectTimeoutError";
  }
}

/**
 * Settles with `work`, or rejects with CollectTimeoutError after `ms`, or
 * resolves undefined when the signal aborts (the loop is stopping).
 */
function bounded<T>(
  work: Promise<T>,
  ms: number,
  type: string,
  signal: AbortSignal,
): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      resolve(undefined);
    };
    const t = setTimeout(() => {
      done();
      reject(new CollectTimeoutError(type, ms));
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        done();
        resolve(v);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}

/**
 * Collects on a fixed schedule (ticks do not drift with collection time) and
 * spools each round before anything is sent. A failing collector is logged,
 * rate-limited, and the others go on; a collector that hangs is given up on
 * after min(interval, 10 s), and no new round starts while it is still stuck.
 * A round never reuses the previous round's second: the manager keys rows by
 * timestamp, so it would overwrite nothing and the round would be silently lost.
 * A round the spool cannot store (disk full) is counted as dropped, with its
 * time range, so the gap shows in the `daemon` metric.
 */
export async function runCollectLoop(o: CollectLoopOptions): Promise<void> {
  const type = o.collector.type;
  const timeoutMs = o.timeoutMs ?? Math.min(o.intervalMs, MAX_COLLECT_MS);
  let next = Date.now();
  let lastTs = -1;
  let stuck: Promise<unknown> | undefined;
  while (!o.signal.aborted) {
    await sleep(next - Date.now(), o.signal);
    if (o.signal.aborted) break;
    const now = new Date();
    next += o.intervalMs;
    if (next < Date.now()) next = Date.now() + o.intervalMs;
    if (unixSeconds(now) <= lastTs) continue;
    if (stuck) {
      o.log(
        "warn",
        `collector:${type}`,
        { type },
        `collector ${type} is still stuck in its previous round; skipped`,
      );
      continue;
    }
    let samples: MetricSample[] | undefined;
    const work = o.collector.collect(now);
    try {
      samples = await bounded(work, timeoutMs, type, o.signal);
    } catch (err) {
      if (err instanceof CollectTimeoutError) {
        const p = work
          .catch(() => {})
          .finally(() => {
            if (stuck === p) stuck = undefined;
          });
        stuck = p;
      }
      o.log(
        "warn",
        `collector:${type}`,
        { type, err: (err as Error).message },
        `collector ${type} failed; the others go on`,
      );
      continue;
    }
    if (!samples || samples.length === 0) continue;
    try {
      const batch = await o.spool.append(samples);
      lastTs = unixSeconds(now);
      o.logger.debug({ type, seq: batch.seq, ts: lastTs, samples: samples.length }, "spooled");
    } catch (err) {
      lastTs = unixSeconds(now);
      o.spool.recordLoss(samples);
      o.log(
        "error",
        "spool-write",
        { type, samples: samples.length, err: (err as Error).message },
        "spool write failed; this round is lost and counted as dropped (type=daemon)",
      );
    }
  }
}
