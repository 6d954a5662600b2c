import type { Logger } from "../../common/logging.js";
import type { MetricSample } from "../../common/types.js";
import type { Collector } from "../collectors/collector.js";
import { unixSeconds } from "../collectors/collector.js";
import type { LimitedLog } from "../log-limit.js";
import type { Spool } from "../spool/spool.js";
import {
  createSampleClock,
  type LoopClock,
  type SampleClock,
  systemClock,
} from "./sample-clock.js";

export interface CollectLoopOptions {
  collector: Collector;
  intervalMs: number;
  spool: Spool;
  signal: AbortSignal;
  logger: Logger;
  log: LimitedLog;
  /** How long one collect() may take; default the interval, within 5–10 s. */
  timeoutMs?: number;
  /** Time source (tests inject a fake one); default the system's. */
  clock?: LoopClock;
  /** Shared by a daemon's loops so they agree on clock steps; default one of their own on `clock`. */
  sampleClock?: SampleClock;
  /** Rounds the schedule could not run (counted as ticks_missed). */
  onMissed?: (m: MissedTicks) => void;
  /** Rounds run late, by a reading taken for a later round (counted as ticks_late). */
  onLate?: (rounds: number) => void;
}

/**
 * A timer this many rounds late or less (an event loop stalled a few seconds
 * on a starved machine) is caught up: the reading it takes is stamped for
 * each skipped second too. Later than that, the rounds count as missed.
 */
export const MAX_CATCH_UP_ROUNDS = 5;

/** The longest a single collect() may run (a hung `df` on a dead NFS mount must not stall the loop). */
export const MAX_COLLECT_MS = 10_000;
/**
 * The least time a collect() is given, even at 1 s intervals: on a starved
 * machine reading /proc can take over a second, and a late round is caught
 * up, while a round given up on is lost.
 */
export const MIN_COLLECT_MS = 5_000;

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

/** Scheduled rounds that did not run, with the time range they would have covered. */
export interface MissedTicks {
  type: string;
  ticks: number;
  /** Unix seconds of the first and last missed round. */
  fromTs: number;
  toTs: number;
  reason: "late" | "stuck" | "failed" | "clock";
}

/**
 * Collects on a fixed grid: round k runs at k × interval since the epoch (on
 * the sample clock) and its samples are stamped with that scheduled time, not
 * with when the timer fired, so a 1 s collector gives exactly one sample per
 * second however late its timer is. A timer late by more than an interval
 * (up to MAX_CATCH_UP_ROUNDS) is caught up, the one reading standing for each
 * second it skipped (`onLate`). A round is never run twice: a timer later
 * still, a collector that fails or is given up on (after the interval, within
 * 5–10 s), or still stuck in its previous round, or a clock stepped back past
 * the last stamped second skips rounds, and each skip is counted (`onMissed`)
 * and logged, rate-limited, with its time range instead of vanishing; the
 * other collectors go on. A round the spool cannot store
 * (disk full) is counted as dropped, with its time range, so the gap shows in
 * the `daemon` metric.
 */
export async function runCollectLoop(o: CollectLoopOptions): Promise<void> {
  const type = o.collector.type;
  const interval = o.intervalMs;
  const timeoutMs = o.timeoutMs ?? Math.min(Math.max(interval, MIN_COLLECT_MS), MAX_COLLECT_MS);
  const clock = o.clock ?? systemClock;
  const samples = o.sampleClock ?? createSampleClock(clock);
  const missed = (ticks: number, fromK: number, toK: number, reason: MissedTicks["reason"]) => {
    const m = {
      type,
      ticks,
      fromTs: Math.floor((fromK * interval) / 1000),
      toTs: Math.floor((toK * interval) / 1000),
      reason,
    };
    o.onMissed?.(m);
    o.log(
      "warn",
      `missed:${type}:${reason}`,
      { ...m },
      `collector ${type} missed ${ticks} round(s) (${reason}); counted as ticks_missed`,
    );
  };
  let nextK = Math.floor(samples.now() / interval);
  let epoch = samples.epoch;
  let lastTs = -1;
  let lastK = -1;
  let stuck: Promise<unknown> | undefined;
  while (!o.signal.aborted) {
    await clock.sleep(nextK * interval - samples.now(), o.signal);
    if (o.signal.aborted) break;
    const k = Math.floor(samples.now() / interval);
    if (samples.epoch !== epoch) {
      // The sample clock adopted a stepped system clock: a jump ahead loses no time; back,
      // the rounds until it passes the last stamped one cannot run (their seconds are taken).
      epoch = samples.epoch;
      if (k >= nextK) nextK = k;
      else {
        missed(nextK - k, k, nextK - 1, "clock");
        continue;
      }
    }
    if (k < nextK) continue; // woke early
    // Rounds before k that this one's reading also stands for (the timer was that late).
    let late = 0;
    // The first round is whichever second the loop gets going in (start-up may be slow).
    if (k > nextK && lastK >= 0) {
      const behind = k - nextK;
      late = Math.min(behind, MAX_CATCH_UP_ROUNDS);
      if (behind > late) missed(behind - late, nextK, k - late - 1, "late");
    }
    lastK = k;
    nextK = k + 1;
    const at = new Date(k * interval);
    const ts = unixSeconds(at);
    if (ts <= lastTs) continue;
    if (stuck) {
      missed(1 + late, k - late, k, "stuck");
      o.log(
        "warn",
        `collector:${type}`,
        { type },
        `collector ${type} is still stuck in its previous round; skipped`,
      );
      continue;
    }
    let got: MetricSample[] | undefined;
    const work = o.collector.collect(at);
    try {
      got = await bounded(work, timeoutMs, type, o.signal);
    } catch (err) {
      if (err instanceof CollectTimeoutError) {
        const p = work
          .catch(() => {})
          .finally(() => {
            if (stuck === p) stuck = undefined;
          });
        stuck = p;
      }
      missed(1 + late, k - late, k, "failed");
      o.log(
        "warn",
        `collector:${type}`,
        { type, err: (err as Error).message },
        `collector ${type} failed; the others go on`,
      );
      continue;
    }
    if (!got || got.length === 0) continue;
    if (late > 0) {
      // One reading for each second the stalled timer skipped, each stamped with its own
      // second: the series has no hole, and no second is written twice.
      const earlier: MetricSample[] = [];
      for (let j = late; j >= 1; j--) {
        const t = unixSeconds(new Date((k - j) * interval));
        if (t > lastTs && t < ts) for (const x of got) earlier.push({ ...x, timestamp: t });
      }
      got = [...earlier, ...got];
      o.onLate?.(late);
      o.log(
        "warn",
        `late:${type}`,
        { type, rounds: late, ts },
        `collector ${type} ran ${late} round(s) late (a stalled event loop); one reading stands for them (ticks_late)`,
      );
    }
    lastTs = ts;
    try {
      const batch = await o.spool.append(got);
      o.logger.debug({ type, seq: batch.seq, ts, samples: got.length }, "spooled");
    } catch (err) {
      o.spool.recordLoss(got);
      o.log(
        "error",
        "spool-write",
        { type, samples: got.length, err: (err as Error).message },
        "spool write failed; this round is lost and counted as dropped (type=daemon)",
      );
    }
  }
}
