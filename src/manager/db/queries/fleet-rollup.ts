import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Database } from "../client.js";
import { fleetRollupBuckets, fleetRollupCoverage } from "../schema/fleet-rollup.js";
import { exactFleetBuckets, type FleetBucket, type FleetMetricsQuery } from "./fleet-metrics.js";

/** One precomputed series: a values key of a metric type at one step. */
export interface RollupSeries {
  type: string;
  name: string;
  stepSeconds: number;
}

/**
 * Transaction-level advisory lock taken by a rollup's write and by
 * clearRollups: a node deleted while a rollup is computed is either seen gone
 * by it or clears it afterwards.
 */
const ROLLUP_WRITE_LOCK = 0x666c_7277; // "flrw"

const seriesIs = (s: RollupSeries) =>
  and(
    eq(fleetRollupCoverage.type, s.type),
    eq(fleetRollupCoverage.name, s.name),
    eq(fleetRollupCoverage.stepSeconds, s.stepSeconds),
  );

/** The range of bucket starts the rollup covers for the series, if any. */
export async function rollupCoverage(
  db: Database,
  s: RollupSeries,
): Promise<{ fromT: number; toT: number } | undefined> {
  const [row] = await db
    .select({ fromT: fleetRollupCoverage.fromT, toT: fleetRollupCoverage.toT })
    .from(fleetRollupCoverage)
    .where(seriesIs(s));
  return row;
}

/**
 * Recomputes the buckets starting in [fromT, toT) (multiples of the step)
 * with the exact query and records [coverFrom, toT) as covered; buckets before
 * coverFrom are dropped. One transaction: readers see the old or the new.
 */
export async function storeRollup(
  db: Database,
  s: RollupSeries,
  range: { fromT: number; toT: number; coverFrom: number },
): Promise<number> {
  const mine = and(
    eq(fleetRollupBuckets.type, s.type),
    eq(fleetRollupBuckets.name, s.name),
    eq(fleetRollupBuckets.stepSeconds, s.stepSeconds),
  );
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${ROLLUP_WRITE_LOCK})`);
    // After the lock: this statement's snapshot sees every committed deletion.
    const buckets = await exactFleetBuckets(tx, {
      ...s,
      labels: {},
      status: "",
      selector: [],
      start: range.fromT,
      end: range.toT,
    });
    await tx
      .delete(fleetRollupBuckets)
      .where(
        and(
          mine,
          sql`(${fleetRollupBuckets.t} >= ${range.fromT} or ${fleetRollupBuckets.t} < ${range.coverFrom})`,
        ),
      );
    for (let i = 0; i < buckets.length; i += 500) {
      await tx
        .insert(fleetRollupBuckets)
        .values(buckets.slice(i, i + 500).map((b) => ({ ...s, ...b })));
    }
    await tx
      .insert(fleetRollupCoverage)
      .values({ ...s, fromT: range.coverFrom, toT: range.toT })
      .onConflictDoUpdate({
        target: [
          fleetRollupCoverage.type,
          fleetRollupCoverage.name,
          fleetRollupCoverage.stepSeconds,
        ],
        set: { fromT: range.coverFrom, toT: range.toT, rolledAt: sql`now()` },
      });
    return buckets.length;
  });
}

/**
 * Forgets every rollup (a node's metrics were deleted: its past is in them).
 * Called inside the deleting transaction, after the metrics are deleted.
 */
export async function clearRollups(db: Database): Promise<void> {
  await db.execute(sql`select pg_advisory_xact_lock(${ROLLUP_WRITE_LOCK})`);
  await db.delete(fleetRollupCoverage);
  await db.delete(fleetRollupBuckets);
}

/**
 * fleetMetricBuckets over the whole fleet (no selector, status or labels) at
 * a rolled-up step: whole buckets inside the coverage come from the rollup,
 * the edges (a partial first or last bucket, anything newer than the
 * coverage) from metrics. Equal to exactFleetBuckets for the same window as
 * long as no row arrived for a bucket after it was rolled up.
 */
export async function rolledFleetBuckets(
  db: Database,
  q: FleetMetricsQuery,
): Promise<FleetBucket[]> {
  const cover = await rollupCoverage(db, q);
  const step = q.stepSeconds;
  const lo = Math.max(Math.ceil(q.start / step) * step, cover?.fromT ?? Infinity);
  const hi = Math.min(Math.floor(q.end / step) * step, cover?.toT ?? -Infinity);
  if (!cover || lo >= hi) return exactFleetBuckets(db, q);
  const [before, rolled, after] = await Promise.all([
    q.start < lo ? exactFleetBuckets(db, { ...q, end: lo }) : [],
    db
      .select({
        t: fleetRollupBuckets.t,
        avg: fleetRollupBuckets.avg,
        min: fleetRollupBuckets.min,
        max: fleetRollupBuckets.max,
        p50: fleetRollupBuckets.p50,
        p90: fleetRollupBuckets.p90,
        p99: fleetRollupBuckets.p99,
        count: fleetRollupBuckets.count,
      })
      .from(fleetRollupBuckets)
      .where(
        and(
          eq(fleetRollupBuckets.type, q.type),
          eq(fleetRollupBuckets.name, q.name),
          eq(fleetRollupBuckets.stepSeconds, step),
          gte(fleetRollupBuckets.t, lo),
          lt(fleetRollupBuckets.t, hi),
        ),
      )
      .orderBy(fleetRollupBuckets.t),
    hi < q.end ? exactFleetBuckets(db, { ...q, start: hi }) : [],
  ]);
  return [...before, ...rolled, ...after];
}
