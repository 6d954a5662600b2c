/**
 * The whole-fleet rollup gives what the exact query gives: QueryFleetMetrics
 * buckets read from fleet_rollup_buckets (plus the edges read from metrics)
 * equal exactFleetBuckets over the same window, for aligned and unaligned
 * windows and windows past the coverage; rows stored late (a replayed spool)
 * and a node deletion leave markers, and the next run recomputes from them.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/common/logging.js";
import type { DatabaseHandle } from "../../src/manager/db/client.js";
import { exactFleetBuckets, type FleetBucket } from "../../src/manager/db/queries/fleet-metrics.js";
import { deleteNode } from "../../src/manager/db/queries/fleet-nodes.js";
import { rolledFleetBuckets, rollupCoverage } from "../../src/manager/db/queries/fleet-rollup.js";
import { insertMetricBatch } from "../../src/manager/db/queries/metrics.js";
import { rowsOf } from "../../src/manager/db/queries/rows.js";
import { createFleetRollup } from "../../src/manager/services/fleet-rollup.js";
import { openOwnDatabase } from "../helpers/manager.js";

const STEP = 300;
const series = { type: "cpu", name: "usage_percent", stepSeconds: STEP };
const wholeFleet = { ...series, labels: {}, status: "", selector: [] };

let handle: DatabaseHandle;
let close: () => Promise<void>;
// Six hours ago, aligned to the hour: the data spans [t0, t0 + 4 h).
const nowS = Math.floor(Date.now() / 1000 / 3600) * 3600;
const t0 = nowS - 6 * 3600;

beforeAll(async () => {
  ({ handle, close } = await openOwnDatabase());
  // 40 nodes, a point every 70 s for 4 h (several per bucket, uneven), two label
  // sets on some nodes, a values key that is not a number on others.
  await handle.db.execute(sql`
    insert into nodes (node_id, hostname, os, arch, labels)
    select 'roll-' || g, 'h', 'linux', 'amd64', '{}'::jsonb from generate_series(0, 39) g`);
  await handle.db.execute(sql`
    insert into metrics (node_id, type, labels, ts, values)
    select 'roll-' || n, 'cpu',
           case when n % 4 = 0 and p % 2 = 0 then '{"core":"1"}'::jsonb else '{}'::jsonb end,
           to_timestamp(${t0}::bigint + p * 70 + n),
           case when n % 7 = 3 and p % 5 = 0 then jsonb_build_object('usage_percent', 'n/a')
                else jsonb_build_object('usage_percent', ((n * 37 + p * 11) % 1000) / 10.0) end
      from generate_series(0, 39) n, generate_series(0, 205) p`);
});

afterAll(async () => {
  await close?.();
});

/**
 * Equal up to float summation order: PostgreSQL's avg over the same rows may
 * add them in another order from one plan to the next (last-bit differences).
 */
function expectSameBuckets(got: FleetBucket[], want: FleetBucket[]): void {
  expect(got.map((b) => [b.t, b.count])).toEqual(want.map((b) => [b.t, b.count]));
  got.forEach((b, i) => {
    for (const k of ["avg", "min", "max", "p50", "p90", "p99"] as const) {
      expect(b[k]).toBeCloseTo(want[i]?.[k] ?? Number.NaN, 9);
    }
  });
}

const rollup = () =>
  createFleetRollup({
    handle,
    options: {
      series: [series],
      backfillSeconds: 3 * 3600,
      keepSeconds: 30 * 86_400,
      settleSeconds: 120,
      intervalMs: 60_000,
    },
    logger: createLogger("test", "silent"),
  });

describe("the whole-fleet rollup", () => {
  it("answers as the exact query does, edges and all", async () => {
    // As of the data's end: covers [end − 3 h, end − 5 min) (the last bucket is not settled).
    await rollup().run(new Date((t0 + 6 * 3600) * 1000 - 2 * 3600 * 1000));
    const cover = await rollupCoverage(handle.db, series);
    expect(cover).toEqual({ fromT: t0 + 3600, toT: t0 + 4 * 3600 - STEP });
    const windows: [number, number][] = [
      [t0, t0 + 6 * 3600], // beyond both ends of the coverage
      [t0 + 3600, t0 + 3 * 3600], // aligned, inside
      [t0 + 3600 + 17, t0 + 3 * 3600 - 41], // partial first and last buckets
      [t0 + 2 * 3600 + 299, t0 + 5 * 3600], // ends past the coverage
      [t0 + 3600 + 10, t0 + 3600 + 200], // inside a single bucket
    ];
    for (const [start, end] of windows) {
      const q = { ...wholeFleet, start, end };
      const exact = await exactFleetBuckets(handle.db, q);
      expect(exact.length).toBeGreaterThan(0);
      expectSameBuckets(await rolledFleetBuckets(handle.db, q), exact);
    }
    // The rolled rows really are used: a window wholly inside reads only them.
    const inside = { ...wholeFleet, start: t0 + 3600, end: t0 + 2 * 3600 };
    await handle.db.execute(sql`update fleet_rollup_buckets set count = count + 1000`);
    const rolled = await rolledFleetBuckets(handle.db, inside);
    expect(rolled.every((b) => b.count > 1000)).toBe(true);
    await handle.db.execute(sql`update fleet_rollup_buckets set count = count - 1000`);
    expectSameBuckets(
      await rolledFleetBuckets(handle.db, inside),
      await exactFleetBuckets(handle.db, inside),
    );
  });

  it("a later run extends the coverage; late rows and a deletion are recomputed by the next run", async () => {
    await rollup().run(new Date(nowS * 1000));
    const cover = await rollupCoverage(handle.db, series);
    expect(cover?.toT).toBe(Math.floor((nowS - 120) / STEP) * STEP);
    expect(cover?.dirtyFrom).toBeUndefined();
    const q = { ...wholeFleet, start: t0, end: nowS };
    expectSameBuckets(
      await rolledFleetBuckets(handle.db, q),
      await exactFleetBuckets(handle.db, q),
    );

    // A daemon's spool replayed after an outage: rows for buckets rolled hours ago,
    // stored through the ingest statement, which leaves a marker.
    await handle.db.execute(sql`
      insert into nodes (node_id, hostname, os, arch, labels) values ('roll-late', 'h', 'linux', 'amd64', '{}')`);
    const replayed = Array.from({ length: 12 }, (_, i) => ({
      type: "cpu",
      timestamp: t0 + 3600 + i * 600,
      values: { usage_percent: 99.5 },
      labels: {},
    }));
    expect(
      await insertMetricBatch(handle.db, [{ nodeId: "roll-late", samples: replayed }]),
    ).toEqual({ stored: 12, missingNodes: [] });
    // Until the next run the rolled buckets answer as rolled (without the late node) …
    const stale = await rolledFleetBuckets(handle.db, q);
    expect(Math.max(...stale.map((b) => b.count))).toBe(40);
    // … and after it, as the exact query does.
    await rollup().run(new Date(nowS * 1000));
    expect((await rollupCoverage(handle.db, series))?.dirtyFrom).toBeUndefined();
    const healed = await rolledFleetBuckets(handle.db, q);
    expectSameBuckets(healed, await exactFleetBuckets(handle.db, q));
    expect(Math.max(...healed.map((b) => b.count))).toBe(41);
    const marks = rowsOf<{ n: number }>(
      await handle.db.execute(sql`select count(*)::int as n from fleet_rollup_late`),
    );
    expect(marks[0]?.n).toBe(0);

    // A deletion: the node's past leaves the whole-fleet answer after the next run,
    // and the rollup stays (queries keep reading it meanwhile).
    expect(await deleteNode(handle.db, "roll-5", new Date())).toBe(true);
    expect(await rollupCoverage(handle.db, series)).toBeDefined();
    await rollup().run(new Date(nowS * 1000));
    const after = await rolledFleetBuckets(handle.db, q);
    expectSameBuckets(after, await exactFleetBuckets(handle.db, q));
    expect(Math.max(...after.map((b) => b.count))).toBeLessThan(41);
  });

  it("rows stored on time leave no marker", async () => {
    await handle.db.execute(sql`delete from fleet_rollup_late`);
    const fresh = [
      {
        type: "cpu",
        timestamp: Math.floor(Date.now() / 1000) - 5,
        values: { usage_percent: 1 },
        labels: {},
      },
    ];
    await insertMetricBatch(handle.db, [{ nodeId: "roll-1", samples: fresh }]);
    const marks = rowsOf<{ n: number }>(
      await handle.db.execute(sql`select count(*)::int as n from fleet_rollup_late`),
    );
    expect(marks[0]?.n).toBe(0);
  });
});
