/**
 * Where one group-commit batch's database time goes, and variants of the batch
 * statement side by side (interleaved rounds, the same rows): EXPLAIN (ANALYZE,
 * BUFFERS) of today's statement on a batch shaped like the ingest case's
 * (requests of 40 rows from distinct nodes), then each variant's wall time.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/ingest-batch-explain.ts
 */
import postgres from "postgres";
import { type DatabaseHandle, openDatabase } from "../src/manager/db/client.js";
import { runMigrations } from "../src/manager/db/migrate.js";
import { insertMetricBatch } from "../src/manager/db/queries/metrics.js";
import { createDailyPartition, dayStart } from "../src/manager/db/queries/partitions.js";

// The statement as it was before it was prepared (BENCH_BEFORE: that version's metrics.ts).
const { insertMetricBatch: insertMetricBatchBefore } = (await import(
  process.env.BENCH_BEFORE ?? "../src/manager/db/queries/metrics.js"
)) as typeof import("../src/manager/db/queries/metrics.js");

import { benchMetric, benchNodeId } from "./lib/metric-rows.js";
import { createBenchDatabase } from "./lib/pg.js";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 25);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const SLICES = Number(process.env.BENCH_SLICES ?? 10);
const NODES = 1000;

interface Row {
  n: string;
  t: string;
  l: Record<string, string>;
  s: number;
  v: Record<string, number>;
}

const batchOf = (round: number, baseTs: number): { rows: Row[]; nodes: string[] } => {
  const rows: Row[] = [];
  const nodes: string[] = [];
  for (let q = 0; q < REQUESTS; q++) {
    const node = (round * REQUESTS + q) % NODES;
    const r = Math.floor((round * REQUESTS + q) / NODES);
    const n = benchNodeId("exp", node);
    nodes.push(n);
    for (let j = 0; j < 40; j++) {
      const m = benchMetric(node, r, j, baseTs);
      rows.push({ n, t: m.type, l: m.labels, s: m.ts, v: m.values });
    }
  }
  return { rows, nodes: nodes.sort() };
};

const INSERT_EXISTS = `
  insert into metrics (node_id, type, labels, ts, values)
  select u.n, u.t, u.l, to_timestamp(u.s), u.v
    from jsonb_to_recordset($1::text::jsonb) as u(n text, t text, l jsonb, s bigint, v jsonb)
   where exists (select 1 from nodes where nodes.node_id = u.n)
  on conflict on constraint metrics_series_ts_pk do nothing`;

type Variant = (sql: postgres.Sql, b: { rows: Row[]; nodes: string[] }) => Promise<unknown>;

// The whole batch write (rows, node_usage, missing nodes) as the manager does it,
// before (Drizzle db.execute: an unnamed statement) and now (prepared).
const samplesOf = (b: { rows: Row[]; nodes: string[] }) =>
  b.nodes.map((nodeId) => ({
    nodeId,
    samples: b.rows
      .filter((r) => r.n === nodeId)
      .map((r) => ({ type: r.t, labels: r.l, timestamp: r.s, values: r.v })),
  }));
let handles: { before: DatabaseHandle; now: DatabaseHandle } | undefined;

const variants: Record<string, Variant> = {
  "batch, db.execute (before)": (_sql, b) =>
    insertMetricBatchBefore((handles as { before: DatabaseHandle }).before.db, samplesOf(b)),
  "batch, prepared (now)": (_sql, b) =>
    insertMetricBatch((handles as { now: DatabaseHandle }).now.db, samplesOf(b)),
  "exists per row (today)": (sql, b) => sql.unsafe(INSERT_EXISTS, [JSON.stringify(b.rows)]),
  "plain insert, fallback on 23505": async (sql, b) => {
    const json = JSON.stringify(b.rows);
    try {
      await sql.unsafe(
        INSERT_EXISTS.replace("on conflict on constraint metrics_series_ts_pk do nothing", ""),
        [json],
        { prepare: true },
      );
    } catch (err) {
      if ((err as { code?: string }).code !== "23505") throw err;
      await sql.unsafe(INSERT_EXISTS, [json], { prepare: true });
    }
  },
  "no node check": (sql, b) =>
    sql.unsafe(
      `insert into metrics (node_id, type, labels, ts, values)
       select u.n, u.t, u.l, to_timestamp(u.s), u.v
         from jsonb_to_recordset($1::text::jsonb) as u(n text, t text, l jsonb, s bigint, v jsonb)
       on conflict on constraint metrics_series_ts_pk do nothing`,
      [JSON.stringify(b.rows)],
    ),
  "text, split in SQL": (sql, b) => {
    const esc = (s: string) => s.replace(/[\\\t\n]/g, " ");
    const text = b.rows
      .map(
        (r) => `${esc(r.n)}\t${esc(r.t)}\t${JSON.stringify(r.l)}\t${r.s}\t${JSON.stringify(r.v)}`,
      )
      .join("\n");
    return sql.unsafe(
      `insert into metrics (node_id, type, labels, ts, values)
       select f[1], f[2], f[3]::jsonb, to_timestamp(f[4]::bigint), f[5]::jsonb
         from (select string_to_array(line, E'\\t') as f
                 from regexp_split_to_table($1::text, E'\\n') as line) u
        where exists (select 1 from nodes where nodes.node_id = f[1])
       on conflict on constraint metrics_series_ts_pk do nothing`,
      [text],
    );
  },
  "copy to temp + insert": (sql, b) =>
    sql.begin(async (tx) => {
      await tx`create temp table if not exists metrics_in (node_id text, type text, labels jsonb, ts bigint, values jsonb) on commit delete rows`;
      const esc = (s: string) =>
        s.replace(/[\\\t\n]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : "\\n"));
      let text = "";
      for (const r of b.rows)
        text += `${esc(r.n)}\t${esc(r.t)}\t${esc(JSON.stringify(r.l))}\t${r.s}\t${esc(JSON.stringify(r.v))}\n`;
      const sink = await tx`copy metrics_in from stdin`.writable();
      await new Promise<void>((resolve, reject) => {
        sink.on("error", reject);
        sink.on("finish", resolve);
        sink.end(text);
      });
      await tx.unsafe(`insert into metrics (node_id, type, labels, ts, values)
        select m.node_id, m.type, m.labels, to_timestamp(m.ts), m.values from metrics_in m
         where exists (select 1 from nodes where nodes.node_id = m.node_id)
        on conflict on constraint metrics_series_ts_pk do nothing`);
    }),
};

async function main() {
  const db = await createBenchDatabase("ingest_explain");
  const url = db.url;
  const handle = await openDatabase({ url, dataDir: "" });
  await runMigrations(handle);
  await createDailyPartition(handle.db, dayStart(new Date()));
  await handle.close();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  handles = {
    before: await openDatabase({ url: url, dataDir: "", poolSize: 4 }),
    now: await openDatabase({ url: url, dataDir: "", poolSize: 4 }),
  };
  try {
    await sql.unsafe(
      `insert into nodes (node_id) select 'exp-' || i from generate_series(0, ${NODES - 1}) i;
       insert into node_usage (node_id) select node_id from nodes on conflict do nothing`,
    );
    const baseTs = Math.floor(Date.now() / 1000) - 60;
    let round = 0;
    // Warm up (and fill the table a little, as a running manager's would be).
    for (let i = 0; i < 40; i++)
      await variants["exists per row (today)"]?.(sql, batchOf(round++, baseTs - 3000));
    const plan = await sql.unsafe(`explain (analyze, buffers, costs off) ${INSERT_EXISTS}`, [
      JSON.stringify(batchOf(round++, baseTs).rows),
    ]);
    console.log(plan.map((r) => String(r["QUERY PLAN"]).slice(0, 160)).join("\n"));
    const times: Record<string, number[]> = {};
    const dup: Record<string, number[]> = {};
    for (let i = 0; i < ROUNDS; i++) {
      for (const [label, run] of Object.entries(variants)) {
        const b = batchOf(round++, baseTs);
        let t = performance.now();
        await run(sql, b);
        times[label] = [...(times[label] ?? []), performance.now() - t];
        t = performance.now();
        await run(sql, b);
        dup[label] = [...(dup[label] ?? []), performance.now() - t];
      }
    }
    const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]?.toFixed(2);
    for (const label of Object.keys(variants))
      console.log(
        `${label.padEnd(26)} ${REQUESTS * 40} rows: new ${med(times[label] ?? [])} ms, retried ${med(dup[label] ?? [])} ms (median of ${ROUNDS})`,
      );
    // Throughput as the batcher drives it: 4 batches in flight, before and now
    // alternating in short slices so that neighbours' load falls on both.
    const rates: Record<string, number[]> = {};
    const whole = ["batch, db.execute (before)", "batch, prepared (now)"];
    for (let i = 0; i < SLICES; i++) {
      for (const label of i % 2 ? [...whole].reverse() : whole) {
        const run = variants[label] as Variant;
        const batches = Array.from({ length: 16 }, () => batchOf(round++, baseTs));
        const t = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < batches.length) await run(sql, batches[next++] as (typeof batches)[0]);
          }),
        );
        const rate = (16 * REQUESTS * 40) / ((performance.now() - t) / 1000);
        rates[label] = [...(rates[label] ?? []), rate];
      }
    }
    const [b, n] = whole.map((l) => Number(med(rates[l] ?? [])));
    console.log(
      `4 in flight, ${SLICES} slices of 16 batches each: before ${b?.toFixed(0)} rows/s, now ${n?.toFixed(0)} rows/s (medians), now/before ${((n ?? 0) / (b ?? 1)).toFixed(2)}`,
    );
  } finally {
    await handles.before.close();
    await handles.now.close();
    await sql.end();
    await db.drop();
  }
}

await main();
