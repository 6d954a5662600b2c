/**
 * Compares ways to write one group-commit batch of metric rows on PostgreSQL:
 * jsonb_to_recordset (one JSON parameter), multi-row VALUES, unnest of arrays,
 * and COPY into a temp table + INSERT … ON CONFLICT.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/ingest-statements.ts
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import postgres from "postgres";
import { openDatabase } from "../src/manager/db/client.js";
import { runMigrations } from "../src/manager/db/migrate.js";

const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

interface Row {
  node_id: string;
  type: string;
  labels: Record<string, string>;
  ts: number;
  values: Record<string, number>;
}

function batch(round: number): Row[] {
  const base = Math.floor(Date.now() / 1000) - 3600 + round * 60;
  return Array.from({ length: ROWS }, (_, i) => ({
    node_id: `bench-${i % 200}`,
    type: i % 2 ? "cpu" : "disk",
    labels: (i % 2 ? {} : { mount: `/m${i % 7}` }) as Record<string, string>,
    ts: base + Math.floor(i / 200),
    values: { usage_percent: Math.random() * 100, load1: 0.5, used_bytes: 1e9 + i },
  }));
}

type Writer = (sql: postgres.Sql, rows: Row[]) => Promise<void>;

const writers: Record<string, Writer> = {
  jsonb_to_recordset: async (sql, rows) => {
    await sql`insert into metrics (node_id, type, labels, ts, values)
      select u.node_id, u.type, u.labels, to_timestamp(u.ts), u.values
        from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
          as u(node_id text, type text, labels jsonb, ts bigint, values jsonb)
      on conflict on constraint metrics_series_ts_pk do nothing`;
  },
  "multi-row VALUES": async (sql, rows) => {
    // 5 parameters per row: stay under the 65,535-parameter limit.
    for (let i = 0; i < rows.length; i += 10_000) {
      const part = rows.slice(i, i + 10_000).map((r) => ({
        node_id: r.node_id,
        type: r.type,
        labels: sql.json(r.labels),
        ts: new Date(r.ts * 1000),
        values: sql.json(r.values),
      }));
      await sql`insert into metrics ${sql(part)} on conflict on constraint metrics_series_ts_pk do nothing`;
    }
  },
  "unnest arrays": async (sql, rows) => {
    await sql`insert into metrics (node_id, type, labels, ts, values)
      select n, t, l::jsonb, to_timestamp(s), v::jsonb
        from unnest(${rows.map((r) => r.node_id)}::text[], ${rows.map((r) => r.type)}::text[],
                    ${rows.map((r) => JSON.stringify(r.labels))}::text[], ${rows.map((r) => r.ts)}::int8[],
                    ${rows.map((r) => JSON.stringify(r.values))}::text[]) as u(n, t, l, s, v)
      on conflict on constraint metrics_series_ts_pk do nothing`;
  },
  "COPY + insert from temp": async (sql, rows) => {
    await sql.begin(async (tx) => {
      await tx`create temp table if not exists metrics_in (node_id text, type text, labels jsonb, ts bigint, values jsonb) on commit delete rows`;
      const esc = (s: string) =>
        s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n");
      const lines = rows.map(
        (r) =>
          `${esc(r.node_id)}\t${esc(r.type)}\t${esc(JSON.stringify(r.labels))}\t${r.ts}\t${esc(JSON.stringify(r.values))}\n`,
      );
      const sink = await tx`copy metrics_in from stdin`.writable();
      await pipeline(Readable.from(lines), sink);
      await tx`insert into metrics (node_id, type, labels, ts, values)
        select node_id, type, labels, to_timestamp(ts), values from metrics_in
        on conflict on constraint metrics_series_ts_pk do nothing`;
    });
  },
};

async function main() {
  const name = `fleet_bench_${randomBytes(3).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ url: url.toString(), dataDir: "" });
  await runMigrations(handle);
  await handle.close();
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {} });
  try {
    let round = 0;
    for (const [label, write] of Object.entries(writers)) {
      const fresh: number[] = [];
      const dup: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const rows = batch(round++);
        let t = performance.now();
        await write(sql, rows);
        fresh.push(performance.now() - t);
        t = performance.now();
        await write(sql, rows);
        dup.push(performance.now() - t);
      }
      const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]?.toFixed(1);
      console.log(
        `${label.padEnd(26)} ${ROWS} rows: new ${med(fresh)} ms, retried ${med(dup)} ms (median of ${ROUNDS})`,
      );
    }
  } finally {
    await sql.end();
    await admin.unsafe(`drop database ${name} with (force)`);
    await admin.end();
  }
}

await main();
