import type { Logger } from "../../common/logging.js";
import type { DatabaseHandle } from "../db/client.js";
import {
  ROLLUP_SETTLE_SECONDS,
  type RollupSeries,
  rollupCoverage,
  storeRollup,
  takeLateMarkers,
} from "../db/queries/fleet-rollup.js";

/** Advisory-lock key: one replica rolls up at a time. */
export const ROLLUP_LOCK_KEY = 0x666c_7275; // "flru"

/**
 * The whole-fleet charts worth precomputing: usage_percent of cpu, memory and
 * disk at 5 min (QueryFleetMetrics' 24 h view) and at 720 s (the dashboard's
 * 24 h view, 120 points).
 */
export const ROLLUP_SERIES: readonly RollupSeries[] = ["cpu", "memory", "disk"].flatMap((type) =>
  [300, 720].map((stepSeconds) => ({ type, name: "usage_percent", stepSeconds })),
);

export interface FleetRollupOptions {
  series: readonly RollupSeries[];
  /** How far back a series' first run reaches. */
  backfillSeconds: number;
  /** How long the rolled buckets are kept (the retention window). */
  keepSeconds: number;
  /**
   * A bucket is rolled up once it ended this long ago: reports arrive within
   * about one collection interval. Rows stored later (a replayed spool) leave
   * a marker and their buckets are recomputed by the next run; at least
   * 2 × LATE_AFTER_SECONDS, or a statement in flight could be missed.
   */
  settleSeconds: number;
  intervalMs: number;
}

export const ROLLUP_DEFAULTS: Omit<FleetRollupOptions, "keepSeconds"> = {
  series: ROLLUP_SERIES,
  backfillSeconds: 86_400,
  settleSeconds: ROLLUP_SETTLE_SECONDS,
  intervalMs: 60_000,
};

/**
 * Keeps fleet_rollup_buckets up to date: each run rolls up the buckets that
 * closed since the last one (the first run backfills), on one replica at a
 * time. Buckets that changed after they were rolled (late rows, a
 * DeleteNode: fleet_rollup_late) are recomputed by the next run; until then
 * they answer as rolled.
 */
export function createFleetRollup(deps: {
  handle: DatabaseHandle;
  options: FleetRollupOptions;
  logger: Logger;
}) {
  const { handle, options, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const runOnce = async (now: Date) => {
    await handle.withAdvisoryLock(ROLLUP_LOCK_KEY, async () => {
      const nowS = Math.floor(now.getTime() / 1000);
      await takeLateMarkers(handle.db);
      for (const s of options.series) {
        const step = s.stepSeconds;
        const toT = Math.floor((nowS - options.settleSeconds) / step) * step;
        const keepFrom = Math.floor((nowS - options.keepSeconds) / step) * step;
        const cover = await rollupCoverage(handle.db, s);
        // From where the rolled buckets went stale, if they did, else from the last run's end.
        const stale =
          cover?.dirtyFrom !== undefined ? Math.floor(cover.dirtyFrom / step) * step : Infinity;
        const fromT = cover
          ? Math.max(Math.min(cover.toT, Math.max(stale, cover.fromT)), keepFrom)
          : Math.floor((nowS - options.backfillSeconds) / step) * step;
        if (fromT >= toT) continue;
        const coverFrom = cover && cover.toT >= keepFrom ? Math.max(cover.fromT, keepFrom) : fromT;
        const t0 = performance.now();
        const n = await storeRollup(handle.db, s, { fromT, toT, coverFrom });
        logger.debug(
          { ...s, fromT, toT, buckets: n, ms: Math.round(performance.now() - t0) },
          "fleet rollup",
        );
      }
    });
  };

  const run = (now = new Date()) => {
    running = running.then(
      () => runOnce(now),
      () => runOnce(now),
    );
    return running;
  };

  return {
    /** Rolls up every series as of `now`; replicas take turns. */
    run,
    start(): void {
      timer ??= setInterval(() => {
        run().catch((err: unknown) => logger.error({ err }, "fleet rollup failed"));
      }, options.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running.catch(() => undefined);
    },
  };
}

export type FleetRollup = ReturnType<typeof createFleetRollup>;
