/**
 * query: FleetService ListNodes pages (by node_id and by cpu), GetNode, a
 * 30-day QueryMetrics downsampled to 1 h buckets and a QueryFleetMetrics over
 * every node for 24 h at 5 min steps, p50/p99 over a dataset seeded with
 * generate_series (the issue's density: 500 points per node over 30 days, plus
 * one cpu point per node per hour over the last 24 h on every node, so the
 * fleet query meets the whole fleet). Queries run one at a time through the
 * real manager's gRPC port, as a dashboard or CLI would.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createLogger } from "../../src/common/logging.js";
import { openDatabase } from "../../src/manager/db/client.js";
import { createFleetRollup, ROLLUP_DEFAULTS } from "../../src/manager/services/fleet-rollup.js";
import { managerEnv, startServerChild } from "../lib/child.js";
import { createBenchDatabase } from "../lib/pg.js";
import type { BenchOptions, CaseResult } from "../lib/report.js";
import { quantile, Samples } from "../lib/stats.js";

const DAY = 86_400;
const POINTS_PER_NODE = 500;

/** Node numbers 0…n−1 in two ranges, for two insert statements at once. */
const halves = (n: number): [number, number][] => [
  [0, Math.ceil(n / 2) - 1],
  [Math.ceil(n / 2), n - 1],
];

export async function queryCase(opts: BenchOptions): Promise<CaseResult> {
  const nodes = opts.quick ? 2_000 : 100_000;
  const nodesWithMetrics = opts.quick ? 200 : 10_000;
  const calls = opts.quick ? 50 : 300;
  // The fleet query reads every node's last day: fewer calls, p99 ≈ the max.
  const fleetCalls = opts.quick ? 5 : 20;
  // Every how many fleet calls one goes the exact way (a selector every node matches).
  const exactEvery = opts.quick ? 1 : 5;
  const prefix = "q";
  const db = await createBenchDatabase("query");
  // Two connections: the 30-day grid is seeded as two halves at once.
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const manager = await startServerChild("manager.ts", {
    name: "query-manager",
    env: managerEnv(db.url, opts.stack),
  });
  try {
    const now = Math.floor(Date.now() / 1000);
    const s0 = performance.now();
    await sql`
      insert into nodes (node_id, hostname, os, arch, labels, last_seen_at)
      select ${`${prefix}-`} || g, 'host-' || g, 'linux', 'amd64',
             jsonb_build_object('env', case when g % 3 = 0 then 'prod' else 'lab' end, 'rack', 'r' || (g % 40)),
             now() - (g % 600) * interval '1 second'
      from generate_series(0, ${nodes - 1}::int) g`;
    const step = Math.floor((30 * DAY) / POINTS_PER_NODE);
    const gridSeed = performance.now();
    await Promise.all(
      halves(nodesWithMetrics).map(
        ([lo, hi]) => sql`
      insert into metrics (node_id, type, labels, ts, values)
      select ${`${prefix}-`} || n, 'cpu', '{}'::jsonb,
             to_timestamp(${now - 30 * DAY}::bigint + p * ${step}::int),
             jsonb_build_object('usage_percent', (n * 7 + p * 13) % 100, 'load1', (p % 17) / 4.0,
               'user', (p % 23), 'system', (p % 11), 'iowait', (p % 5), 'idle', 100 - (p % 50),
               'load5', (p % 13) / 4.0, 'load15', (p % 7) / 4.0, 'cores', 2, 'steal', 0)
      from generate_series(${lo}::int, ${hi}::int) n, generate_series(0, ${POINTS_PER_NODE - 1}::int) p`,
      ),
    );
    const gridS = (performance.now() - gridSeed) / 1000;
    // The last 24 h on every node (hourly; points of the grid above may coincide),
    // as one stream in time order, as reports arrive: the BRIN index on ts
    // relies on it (two streams at once would mix far-apart times in a range).
    await sql`
      insert into metrics (node_id, type, labels, ts, values)
      select ${`${prefix}-`} || n, 'cpu', '{}'::jsonb,
             to_timestamp(${now - DAY}::bigint + h * 3600 + n % 3600),
             jsonb_build_object('usage_percent', (n * 11 + h * 7) % 100, 'load1', (h % 17) / 4.0)
      from generate_series(0, ${nodes - 1}::int) n, generate_series(0, 23) h
      order by 4
      on conflict do nothing`;
    // Usage for ListNodes order_by cpu (node_usage rows come with the nodes, by trigger).
    await sql`
      update node_usage set cpu_percent = (hashtext(node_id) & 1023) / 10.24,
             memory_percent = (hashtext(node_id) & 511) / 5.12, sampled_at = now()`;
    await sql`analyze`;
    // BRIN ranges filled since the last VACUUM are unsummarized, read whole by
    // every scan; a day of history written at once needs them summarized, as
    // autovacuum (autosummarize) does in the steady state.
    await sql`
      select brin_summarize_new_values(i.inhrelid)
        from pg_inherits i where i.inhparent = 'metrics_ts_brin'::regclass`;
    const seedS = (performance.now() - s0) / 1000;
    const points = nodesWithMetrics * POINTS_PER_NODE + nodes * 24;
    opts.log(
      `query: seeded ${nodes} nodes, ${points} points in ${seedS.toFixed(1)} s (30-day grid ${gridS.toFixed(1)} s)`,
    );
    // The seed wrote a day of history at once, behind the manager's rollup (whose
    // minutely run may have rolled up part of it): clear it and run the leader's
    // rollup over the finished data, as its first run on a manager would.
    const r0 = performance.now();
    const handle = await openDatabase({ url: db.url, dataDir: "" });
    try {
      await sql`truncate fleet_rollup_coverage, fleet_rollup_buckets, fleet_rollup_late`;
      await createFleetRollup({
        handle,
        options: { ...ROLLUP_DEFAULTS, keepSeconds: 30 * DAY },
        logger: createLogger("bench-rollup", "warn"),
      }).run();
    } finally {
      await handle.close();
    }
    const rollupS = (performance.now() - r0) / 1000;
    opts.log(`query: fleet rollup backfilled in ${rollupS.toFixed(1)} s`);

    const client = createClient(
      FleetService,
      createGrpcTransport({ baseUrl: manager.grpcUrl, defaultTimeoutMs: 30_000 }),
    );
    const list = new Samples();
    const byCpu = new Samples();
    const get = new Samples();
    const query = new Samples();
    const fleet = new Samples();
    const fleetExact = new Samples();
    let fleetBuckets = 0;
    let cpuToken = "";
    let seriesPoints = 0;
    let pageTotal = 0;
    // Warm up connections and plans.
    await client.listNodes({ pageSize: 100 });
    for (let i = 0; i < calls; i++) {
      const after = `${prefix}-${Math.floor(Math.random() * nodes)}`;
      let t = performance.now();
      const page = await client.listNodes({
        pageSize: 100,
        pageToken: i % 2 === 0 ? "" : Buffer.from(after, "utf8").toString("base64url"),
      });
      list.push(performance.now() - t);
      pageTotal = Number(page.total);
      t = performance.now();
      const res = await client.queryMetrics({
        nodeId: `${prefix}-${Math.floor(Math.random() * nodesWithMetrics)}`,
        type: "cpu",
        name: "usage_percent",
        start: BigInt(now - 30 * DAY),
        end: BigInt(now + 60),
        stepSeconds: 3600,
      });
      query.push(performance.now() - t);
      seriesPoints = res.series.reduce((a, s) => a + s.points.length, 0);
      // order_by cpu, descending (the dashboard's "busiest first"): even calls the
      // first page, odd calls the page after the previous call's.
      t = performance.now();
      const busy = await client.listNodes({
        pageSize: 100,
        orderBy: "cpu",
        descending: true,
        pageToken: i % 2 === 1 ? cpuToken : "",
      });
      byCpu.push(performance.now() - t);
      cpuToken = busy.nextPageToken;
      t = performance.now();
      await client.getNode({ nodeId: `${prefix}-${Math.floor(Math.random() * nodes)}` });
      get.push(performance.now() - t);
    }
    // The whole fleet (rolled-up buckets), interleaved with the same query
    // through a selector every node matches (env), which reads metrics.
    const fleetQuery = {
      type: "cpu",
      name: "usage_percent",
      start: BigInt(now - DAY),
      end: BigInt(now),
      stepSeconds: 300,
      aggregates: ["avg", "p99"],
    };
    let fleetDiff = 0;
    for (let i = 0; i < fleetCalls; i++) {
      let t = performance.now();
      const res = await client.queryFleetMetrics(fleetQuery);
      fleet.push(performance.now() - t);
      fleetBuckets = res.series[0]?.points.length ?? 0;
      if (i % exactEvery !== 0) continue;
      t = performance.now();
      const exact = await client.queryFleetMetrics({ ...fleetQuery, selector: "env" });
      fleetExact.push(performance.now() - t);
      // The same answer both ways (to float summation order).
      for (const [k, s] of res.series.entries()) {
        for (const [j, p] of s.points.entries()) {
          const e = exact.series[k]?.points[j];
          const d = e && e.timestamp === p.timestamp ? Math.abs(e.value - p.value) : Infinity;
          fleetDiff = Math.max(fleetDiff, d);
        }
      }
    }
    const q = (s: Samples, p: number) => quantile(s.values(), p);
    return {
      name: "query",
      rows: [
        {
          measure: "ListNodes page of 100 p50 / p99",
          value: `${q(list, 0.5).toFixed(1)} / ${q(list, 0.99).toFixed(1)}`,
          unit: "ms",
          note: `${calls} calls, total ${pageTotal} nodes; half first pages, half from a random page token`,
        },
        {
          measure: "ListNodes order_by cpu p50 / p99",
          value: `${q(byCpu, 0.5).toFixed(1)} / ${q(byCpu, 0.99).toFixed(1)}`,
          unit: "ms",
          note: `${calls} calls, descending; half first pages, half second pages`,
        },
        {
          measure: "GetNode p50 / p99",
          value: `${q(get, 0.5).toFixed(1)} / ${q(get, 0.99).toFixed(1)}`,
          unit: "ms",
          note: `${calls} calls, random node of ${nodes}`,
        },
        {
          measure: "QueryFleetMetrics 24 h, 5 min step p50 / p99",
          value: `${q(fleet, 0.5).toFixed(1)} / ${q(fleet, 0.99).toFixed(1)}`,
          unit: "ms",
          note: `${fleetCalls} calls, all ${nodes} nodes, avg + p99, ${fleetBuckets} buckets (target < 200 ms)`,
        },
        {
          measure: "QueryFleetMetrics, exact path p50 / p99",
          value: `${q(fleetExact, 0.5).toFixed(1)} / ${q(fleetExact, 0.99).toFixed(1)}`,
          unit: "ms",
          note: `${fleetExact.values().length} calls interleaved, selector env (every node): reads metrics, not the rollup; largest difference ${fleetDiff.toExponential(1)}; rollup backfill ${rollupS.toFixed(1)} s`,
        },
        {
          measure: "QueryMetrics 30 d, 1 h step p50 / p99",
          value: `${q(query, 0.5).toFixed(1)} / ${q(query, 0.99).toFixed(1)}`,
          unit: "ms",
          note: `${calls} calls, ${seriesPoints} buckets from ${POINTS_PER_NODE} points each`,
        },
        {
          measure: "dataset",
          value: `${nodes} nodes / ${points} points`,
          unit: "",
          note: `seeded with generate_series in ${seedS.toFixed(0)} s`,
        },
      ],
      ratios: {},
      headlines: {
        query_list_nodes_p99_ms: q(list, 0.99),
        query_list_nodes_cpu_p99_ms: q(byCpu, 0.99),
        query_get_node_p99_ms: q(get, 0.99),
        query_metrics_p99_ms: q(query, 0.99),
        query_fleet_metrics_p99_ms: q(fleet, 0.99),
        query_fleet_metrics_exact_p99_ms: q(fleetExact, 0.99),
      },
      notes: [
        `dataset ${nodes.toLocaleString("en-US")} nodes / ${points.toLocaleString("en-US")} points (${POINTS_PER_NODE} per node over 30 days on ${nodesWithMetrics.toLocaleString("en-US")} nodes, plus 24 hourly points on every node); the issue's 100,000 nodes / 50 million points is too slow to seed on this machine`,
      ],
    };
  } finally {
    await manager.stop();
    await sql.end();
    await db.drop();
  }
}
