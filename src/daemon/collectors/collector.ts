import type { MetricSample } from "../../common/types.js";

/** One source of metrics; each collector fails alone. */
export interface Collector {
  readonly type: string;
  collect(now: Date): Promise<MetricSample[]>;
}

export const unixSeconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** How long the first round of a rate collector samples, so even `--once` reports rates. */
export const PRIME_MS = 250;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Keeps the previous snapshot of cumulative counters. The first call takes two
 * snapshots PRIME_MS apart, so every round has a delta to report.
 */
export function createSnapshots<T>(read: () => Promise<T>) {
  let prev: { at: number; value: T } | undefined;
  return async (): Promise<{ prev: T; cur: T; seconds: number }> => {
    if (!prev) {
      prev = { at: performance.now(), value: await read() };
      await sleep(PRIME_MS);
    }
    const cur = { at: performance.now(), value: await read() };
    const out = { prev: prev.value, cur: cur.value, seconds: (cur.at - prev.at) / 1000 };
    prev = cur;
    return out;
  };
}

/** Rounds to a fixed number of decimals so reports stay small. */
export const round = (n: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
