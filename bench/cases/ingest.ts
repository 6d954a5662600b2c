/**
 * ingest: metric rows/s stored through ReportMetrics (many nodes, 40 MetricData
 * per request, real PostgreSQL) ÷ a raw COPY of the same rows into a table of
 * the same shape, measured side by side in the same database; and ÷ the seed's
 * design (bench/servers/seed-design.ts: one INSERT per request) on the same
 * load, in a database of its own on the same server.
 */
import postgres from "postgres";
import { managerEnv, RESULTS_DIR, startServerChild } from "../lib/child.js";
import { startLoadGenerator } from "../lib/loadgen-client.js";
import { errorCount, type GenResult } from "../lib/loadgen-protocol.js";
import { benchMetric, benchNodeId } from "../lib/metric-rows.js";
import { createBenchDatabase } from "../lib/pg.js";
import { cpuMeter, machineMeter } from "../lib/proc.js";
import type { BenchOptions, CaseResult } from "../lib/report.js";
import { median } from "../lib/stats.js";

const METRICS_PER_REQUEST = 40;

export async function ingestCase(opts: BenchOptions): Promise<CaseResult> {
  const nodes = 1000;
  const requestsPerNode = opts.quick ? 3 : 10;
  const reps = opts.quick ? 1 : 3;
  const concurrency = 100;
  const prefix = "ing";
  const notes: string[] = [];

  const db = await createBenchDatabase("ingest");
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const manager = await startServerChild("manager.ts", {
    name: "ingest-manager",
    env: managerEnv(db.url, opts.stack),
    // BENCH_INGEST_CPU_PROF=1: a CPU profile of the manager into bench/results/ (bench/lib/cpuprofile.ts reads it).
    execArgv: process.env.BENCH_INGEST_CPU_PROF
      ? ["--cpu-prof", "--cpu-prof-dir", RESULTS_DIR]
      : [],
  });
  const seedDb = await createBenchDatabase("ingest_seed");
  const seedSql = postgres(seedDb.url, { max: 1, onnotice: () => {} });
  const seed = await startServerChild("seed-design.ts", {
    name: "ingest-seed-design",
    env: managerEnv(seedDb.url, opts.stack),
  });
  const gen = await startLoadGenerator();
  try {
    for (const server of [manager, seed]) {
      const reg = await gen.run(
        {
          op: "register",
          url: server.grpcUrl,
          prefix,
          from: 0,
          to: nodes,
          concurrency: 50,
          maxSeconds: 120,
        },
        150_000,
      );
      if (reg.ok !== nodes)
        throw new Error(`registering ${nodes} nodes: ${reg.ok} ok, ${reg.firstError}`);
    }

    // The baseline table: same columns, keys and partitioning as metrics.
    await sql.unsafe(
      "create table bench_copy (like metrics including all) partition by range (ts);" +
        "create table bench_copy_default partition of bench_copy default",
    );

    const copyRates: number[] = [];
    const rpcRates: number[] = [];
    const seedRates: number[] = [];
    let seedLast: GenResult | undefined;
    let acked = 0;
    let stored = 0;
    let last: GenResult | undefined;
    const managerCpu = cpuMeter(manager.pid);
    const machine = machineMeter();
    let managerCores = 0;
    let machineCores = 0;
    for (let rep = 0; rep < reps; rep++) {
      const baseTs = Math.floor(Date.now() / 1000) - 7200 + rep * 1000;
      // The same rows in the same calls, to either server.
      const ingestThrough = (url: string) =>
        gen.run(
          {
            op: "ingest",
            url,
            prefix,
            nodes,
            requestsPerNode,
            metricsPerRequest: METRICS_PER_REQUEST,
            baseTs,
            concurrency,
            maxSeconds: 120,
          },
          240_000,
        );
      const rows = nodes * requestsPerNode * METRICS_PER_REQUEST;

      // COPY: text format, generated before the clock starts (as the RPC bodies are).
      const chunks: Buffer[] = [];
      let text = "";
      for (let r = 0; r < requestsPerNode; r++) {
        for (let n = 0; n < nodes; n++) {
          for (let j = 0; j < METRICS_PER_REQUEST; j++) {
            const m = benchMetric(n, r, j, baseTs);
            text += `${benchNodeId(prefix, n)}\t${m.type}\t${JSON.stringify(m.labels)}\t${new Date(m.ts * 1000).toISOString()}\t${JSON.stringify(m.values)}\n`;
          }
          if (text.length > 256 * 1024) {
            chunks.push(Buffer.from(text));
            text = "";
          }
        }
      }
      if (text) chunks.push(Buffer.from(text));
      const c0 = performance.now();
      const writable =
        await sql`copy bench_copy (node_id, type, labels, ts, values) from stdin`.writable();
      await new Promise<void>((resolve, reject) => {
        writable.on("error", reject);
        writable.on("finish", resolve);
        let i = 0;
        const pump = () => {
          while (i < chunks.length) {
            if (!writable.write(chunks[i++])) {
              writable.once("drain", pump);
              return;
            }
          }
          writable.end();
        };
        pump();
      });
      copyRates.push(rows / ((performance.now() - c0) / 1000));

      // Through the manager: same rows, 40 per ReportMetrics.
      managerCpu.reset();
      machine.reset();
      last = await ingestThrough(manager.grpcUrl);
      managerCores = managerCpu.cores();
      machineCores = machine.cores();
      const ackedRows = last.extra.acceptedRows ?? 0;
      const [count] = await sql<{ n: string }[]>`
        select count(*)::text as n from metrics
        where node_id like ${`${prefix}-%`} and ts >= to_timestamp(${baseTs})
          and ts < to_timestamp(${baseTs + requestsPerNode})`;
      acked += ackedRows;
      stored += Number(count?.n ?? 0);
      rpcRates.push(ackedRows / last.seconds);
      if (errorCount(last) > 0)
        notes.push(`ingest errors: ${JSON.stringify(last.errors)} (${last.firstError})`);

      // The seed's design: the same rows, the same calls, into its own database.
      seedLast = await ingestThrough(seed.grpcUrl);
      const [seedCount] = await seedSql<{ n: string }[]>`
        select count(*)::text as n from metrics
        where ts >= to_timestamp(${baseTs}) and ts < to_timestamp(${baseTs + requestsPerNode})`;
      const seedRows = Number(seedCount?.n ?? 0);
      seedRates.push(seedRows / seedLast.seconds);
      if (errorCount(seedLast) > 0)
        notes.push(
          `seed-design errors: ${JSON.stringify(seedLast.errors)} (${seedLast.firstError})`,
        );
      opts.log(
        `ingest rep ${rep + 1}/${reps}: copy ${Math.round(copyRates[rep] as number)} rows/s, rpc ${Math.round(rpcRates[rep] as number)} rows/s, acked ${ackedRows}, stored ${count?.n}; seed design ${Math.round(seedRates[rep] as number)} rows/s (stored ${seedRows})`,
      );
    }
    if (acked !== stored) notes.push(`acknowledged ${acked} rows but stored ${stored}: MISMATCH`);
    const rpc = median(rpcRates);
    const copy = median(copyRates);
    const seedRate = median(seedRates);
    const requests = last?.requests ?? 0;
    return {
      name: "ingest",
      rows: [
        {
          measure: "ReportMetrics rows/s",
          value: rpc,
          unit: "rows/s",
          note: `${nodes} nodes, 40 rows/request, ${concurrency} in flight, median of ${reps}`,
        },
        {
          measure: "raw COPY rows/s",
          value: copy,
          unit: "rows/s",
          note: "same rows, same table shape, one COPY stream",
        },
        {
          measure: "seed design rows/s",
          value: seedRate,
          unit: "rows/s",
          note: `one INSERT per request; p50 / p99 ${seedLast?.p50Ms.toFixed(1)} / ${seedLast?.p99Ms.toFixed(1)} ms`,
        },
        {
          measure: "ReportMetrics p50 / p99",
          value: `${last?.p50Ms.toFixed(1)} / ${last?.p99Ms.toFixed(1)}`,
          unit: "ms",
          note: `${requests} requests`,
        },
        {
          measure: "acknowledged / stored rows",
          value: `${acked} / ${stored}`,
          unit: "rows",
          note: acked === stored ? "equal" : "MISMATCH",
        },
        {
          measure: "manager CPU",
          value: managerCores,
          unit: "cores",
          note: `machine busy ${machineCores.toFixed(2)} of 2 cores`,
        },
        {
          measure: "generator CPU",
          value: last?.generatorCores ?? 0,
          unit: "cores",
          note: "raw node:http2 client, bodies pre-encoded",
        },
      ],
      ratios: { ingest_vs_copy: rpc / copy, ingest_vs_seed_design: rpc / seedRate },
      headlines: { ingest_acked_rows: acked, ingest_stored_rows: stored },
      notes,
    };
  } finally {
    await gen.stop();
    await manager.stop();
    await seed.stop();
    await sql.end();
    await seedSql.end();
    await db.drop();
    await seedDb.drop();
  }
}
