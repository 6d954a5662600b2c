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
 * A bucket is rolled up once it ended this long ago (services/fleet-rollup.ts):
 * reports arrive within about one collection interval.
 */
export const ROLLUP_SETTLE_SECONDS = 120;

/**
 * A row older than this when stored may land in a bucket already rolled up, so
 * its statement leaves a marker (insertMetricBatch). Half the settle time: a
 * statement still in flight when its rows' bucket is rolled is covered too.
 */
export const LATE_AFTER_SECONDS = ROLLUP_SETTLE_SECONDS / 2;

const seriesIs = (s: RollupSeries) =>
  and(
    eq(fleetRollupCoverage.type, s.type),
    eq(fleetRollupCoverage.name, s.name),
    eq(fleetRollupCoverage.stepSeconds, s.stepSeconds),
  );

/**
 * The range of bucket starts the rollup covers for the series, if any, and
 * where its rolled buckets went stale (undefined: none did).
 */
export async function rollupCoverage(
  db: Database,
  s: RollupSeries,
): Promise<{ fromT: number; toT: number; dirtyFrom?: number } | undefined> {
  const [row] = await db
    .select({
      fromT: fleetRollupCoverage.fromT,
      toT: fleetRollupCoverage.toT,
      dirtyFrom: fleetRollupCoverage.dirtyFrom,
    })
    .from(fleetRollupCoverage)
    .where(seriesIs(s));
  if (!row) return undefined;
  const { dirtyFrom, ...range } = row;
  return dirtyFrom === null ? range : { ...range, dirtyFrom };
}

/**
 * Moves the late-row markers into every covered series of their type
 * (dirty_from = the oldest), in one statement: a marker committed after its
 * snapshot stays for the next run, and the recompute that follows (a newer
 * snapshot) sees every row whose marker it took.
 */
export async function takeLateMarkers(db: Database): Promise<void> {
  await db.execute(sql`
    with taken as (delete from fleet_rollup_late returning type, from_t),
         oldest as (select type, min(from_t) as from_t from taken group by type)
    update fleet_rollup_coverage c
       set dirty_from = least(coalesce(c.dirty_from, oldest.from_t), oldest.from_t)
      from oldest
     where c.type = oldest.type`);
}

/**
 * Before a node's metrics are deleted (in the same transaction): markers from
 * its oldest row of each type, so the rollup recomputes without it.
 */
export async function markNodeMetricsGone(db: Database, nodeId: string): Promise<void> {
  await db.execute(sql`
    insert into fleet_rollup_late (type, from_t)
    select type, extract(epoch from min(ts))::float8 from metrics
     where node_id = ${nodeId} group by type`);
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
      .values({ ...s, fromT: range.coverFrom, toT: range.toT, dirtyFrom: null })
      .onConflictDoUpdate({
        target: [
          fleetRollupCoverage.type,
          fleetRollupCoverage.name,
          fleetRollupCoverage.stepSeconds,
        ],
        set: { fromT: range.coverFrom, toT: range.toT, dirtyFrom: null, rolledAt: sql`now()` },
      });
    return buckets.length;
  });
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
