/**
 * Today's metrics key (node_id, type, labels jsonb, ts) against a series table
 * (node_id, type, labels) → integer series_id with samples keyed
 * (node_id, series_id, ts): ingest rows/s of group-commit-sized batches,
 * storage bytes per row, and the two read queries, side by side in one database.
 *
 *   npx tsx bench/series-schema.ts        (BENCH_NODES, BENCH_REQUESTS, BENCH_DATABASE_URL)
 */
import { createHash } from "node:crypto";
import postgres from "postgres";
import { benchMetric, benchNodeId } from "./lib/metric-rows.js";
import { createBenchDatabase } from "./lib/pg.js";

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10);
const PER_REQUEST = 40;
const BATCH_REQUESTS = 100; // ~ what group commit merges at 100 in flight

const db = await createBenchDatabase("series");
const sql = postgres(db.url, { max: 4, onnotice: () => {} });

await sql.unsafe(`
  create table m_today (node_id text not null, type text not null, labels jsonb not null default '{}',
    ts timestamptz not null, values jsonb not null,
    constraint m_today_pk primary key (node_id, type, labels, ts)) partition by range (ts);
  create table m_today_default partition of m_today default;
  create table s_series (node_id text not null, series_id integer not null,
    type text not null, labels jsonb not null default '{}',
    constraint s_series_pk primary key (node_id, series_id),
    constraint s_series_key unique (node_id, type, labels));
  create table s_samples (node_id text not null, series_id integer not null,
    ts timestamptz not null, values jsonb not null,
    constraint s_samples_pk primary key (node_id, series_id, ts)) partition by range (ts);
  create table s_samples_default partition of s_samples default;
  create table h_metrics (node_id text not null, series bigint not null, type text not null,
    labels jsonb not null default '{}', ts timestamptz not null, values jsonb not null,
    constraint h_metrics_pk primary key (node_id, series, ts)) partition by range (ts);
  create table h_metrics_default partition of h_metrics default;`);

interface Req {
  n: string;
  rows: { t: string; l: Record<string, string>; s: number; v: Record<string, number> }[];
}
const baseTs = Math.floor(Date.now() / 1000) - 7200;
const requests: Req[] = [];
for (let r = 0; r < REQUESTS; r++)
  for (let n = 0; n < NODES; n++) {
    const rows = [];
    for (let j = 0; j < PER_REQUEST; j++) {
      const m = benchMetric(n, r, j, baseTs);
      rows.push({ t: m.type, l: m.labels, s: m.ts, v: m.values });
    }
    requests.push({ n: benchNodeId("ser", n), rows });
  }
const batches: Req[][] = [];
for (let i = 0; i < requests.length; i += BATCH_REQUESTS)
  batches.push(requests.slice(i, i + BATCH_REQUESTS));

// Series ids as the manager would keep them: per node, assigned on first sight.
const seriesIds = new Map<string, number>();
const seriesKey = (n: string, t: string, l: Record<string, string>) =>
  `${n}\u0000${t}\u0000${JSON.stringify(l)}`;

async function today(batch: Req[]) {
  const rows = [];
  for (const q of batch)
    for (const r of q.rows) rows.push({ n: q.n, t: r.t, l: r.l, s: r.s, v: r.v });
  await sql`insert into m_today (node_id, type, labels, ts, values)
    select u.n, u.t, u.l, to_timestamp(u.s), u.v
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as u(n text, t text, l jsonb, s bigint, v jsonb)
    on conflict on constraint m_today_pk do nothing`;
}

async function series(batch: Req[]) {
  const fresh: { n: string; i: number; t: string; l: Record<string, string> }[] = [];
  const rows: { n: string; i: number; s: number; v: Record<string, number> }[] = [];
  for (const q of batch)
    for (const r of q.rows) {
      const k = seriesKey(q.n, r.t, r.l);
      let id = seriesIds.get(k);
      if (id === undefined) {
        id = seriesIds.size + 1;
        seriesIds.set(k, id);
        fresh.push({ n: q.n, i: id, t: r.t, l: r.l });
      }
      rows.push({ n: q.n, i: id, s: r.s, v: r.v });
    }
  await sql`
    with s as (
      insert into s_series (node_id, series_id, type, labels)
      select u.n, u.i, u.t, u.l from jsonb_to_recordset(${JSON.stringify(fresh)}::text::jsonb)
        as u(n text, i int, t text, l jsonb)
      on conflict do nothing)
    insert into s_samples (node_id, series_id, ts, values)
    select u.n, u.i, to_timestamp(u.s), u.v
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as u(n text, i int, s bigint, v jsonb)
    on conflict on constraint s_samples_pk do nothing`;
}

// In-row series: a 64-bit hash of (type, labels) beside them, no second table, no join.
const hashes = new Map<string, string>();
function seriesHash(t: string, l: Record<string, string>): string {
  const k = `${t}\u0000${JSON.stringify(l)}`;
  let h = hashes.get(k);
  if (h === undefined) {
    h = BigInt.asIntN(
      64,
      BigInt(`0x${createHash("md5").update(k).digest("hex").slice(0, 16)}`),
    ).toString();
    hashes.set(k, h);
  }
  return h;
}
async function hash(batch: Req[]) {
  const rows = [];
  for (const q of batch)
    for (const r of q.rows)
      rows.push({ n: q.n, h: seriesHash(r.t, r.l), t: r.t, l: r.l, s: r.s, v: r.v });
  await sql`insert into h_metrics (node_id, series, type, labels, ts, values)
    select u.n, u.h, u.t, u.l, to_timestamp(u.s), u.v
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as u(n text, h bigint, t text, l jsonb, s bigint, v jsonb)
    on conflict on constraint h_metrics_pk do nothing`;
}

async function run(label: string, write: (b: Req[]) => Promise<void>, list: Req[][]) {
  const t0 = performance.now();
  let next = 0;
  // Two batches in flight, as the manager's ingest.max_concurrent_batches.
  await Promise.all(
    [0, 1].map(async () => {
      while (next < list.length) await write(list[next++] as Req[]);
    }),
  );
  void label;
  return (performance.now() - t0) / 1000;
}

// Interleave small parts in rotating order so all three see the same machine
// (it is shared) and the same table sizes.
const PARTS = 10;
const per = Math.ceil(batches.length / PARTS);
const variants: [string, (b: Req[]) => Promise<void>][] = [
  ["today", today],
  ["series", series],
  ["hash", hash],
];
const seconds: Record<string, number> = {};
let total = 0;
for (let p = 0; p < PARTS; p++) {
  const part = batches.slice(p * per, (p + 1) * per);
  total += part.reduce((a, b) => a + b.reduce((x, q) => x + q.rows.length, 0), 0);
  for (let k = 0; k < variants.length; k++) {
    const [label, write] = variants[(p + k) % variants.length] as (typeof variants)[number];
    seconds[label] = (seconds[label] ?? 0) + (await run(label, write, part));
  }
}
for (const [label, s] of Object.entries(seconds))
  console.log(`${label.padEnd(8)} total ${total} rows: ${Math.round(total / s)} rows/s`);
await sql`vacuum analyze m_today_default, s_samples_default, s_series, h_metrics_default`;
const [size] = await sql<{ a: string; b: string; c: string; h: string; n: string }[]>`
  select pg_total_relation_size('m_today_default')::text as a,
         pg_total_relation_size('h_metrics_default')::text as h,
         pg_total_relation_size('s_samples_default')::text as b,
         pg_total_relation_size('s_series')::text as c,
         (select count(*) from m_today)::text as n`;
const n = Number(size?.n);
console.log(
  `storage/row: today ${(Number(size?.a) / n).toFixed(1)} B, series ${((Number(size?.b) + Number(size?.c)) / n).toFixed(1)} B (samples ${(Number(size?.b) / n).toFixed(1)} + series table ${Number(size?.c)} B total), hash ${(Number(size?.h) / n).toFixed(1)} B`,
);

async function lat(label: string, q: () => Promise<unknown>, times = 50) {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await q();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(34)} p50 ${ms[Math.floor(times / 2)]?.toFixed(2)} ms, p99 ${ms[Math.floor(times * 0.99)]?.toFixed(2)} ms`,
  );
}
const node = () => benchNodeId("ser", Math.floor(Math.random() * NODES));
const start = baseTs - 10;
const end = baseTs + REQUESTS + 10;
await lat(
  "QueryMetrics today",
  () =>
    sql`select labels, (floor(extract(epoch from ts) / 1) * 1)::float8 as t,
        avg((values ->> 'usage_percent')::float8)::float8 as v
      from m_today where node_id = ${node()} and type = 'cpu'
        and ts >= to_timestamp(${start}) and ts < to_timestamp(${end})
        and jsonb_typeof(values -> 'usage_percent') = 'number'
      group by labels, 2 order by labels, 2 limit 1001`,
);
await lat(
  "QueryMetrics series",
  () =>
    sql`select s.labels, (floor(extract(epoch from m.ts) / 1) * 1)::float8 as t,
        avg((m.values ->> 'usage_percent')::float8)::float8 as v
      from s_series s join s_samples m on m.node_id = s.node_id and m.series_id = s.series_id
      where s.node_id = ${node()} and s.type = 'cpu'
        and m.ts >= to_timestamp(${start}) and m.ts < to_timestamp(${end})
        and jsonb_typeof(m.values -> 'usage_percent') = 'number'
      group by s.labels, 2 order by s.labels, 2 limit 1001`,
);
await lat(
  "QueryFleetMetrics today",
  () =>
    sql`select floor(extract(epoch from m.ts) / 5) * 5 as t, avg((m.values ->> 'usage_percent')::float8)
        from m_today m where m.type = 'cpu' and m.ts >= to_timestamp(${start}) and m.ts < to_timestamp(${end})
        group by m.node_id, 1`,
  10,
);
await lat(
  "QueryFleetMetrics series",
  () =>
    sql`select floor(extract(epoch from m.ts) / 5) * 5 as t, avg((m.values ->> 'usage_percent')::float8)
        from s_series s join s_samples m on m.node_id = s.node_id and m.series_id = s.series_id
        where s.type = 'cpu' and m.ts >= to_timestamp(${start}) and m.ts < to_timestamp(${end})
        group by m.node_id, 1`,
  10,
);
await sql.end();
await db.drop();
