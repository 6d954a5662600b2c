/**
 * `npm run bench [-- --quick] [--only ingest,heartbeat] [--stack fast|connect]`: runs each case
 * with its own side-by-side baseline, prints a table and `ratio <name> <value>`
 * lines, and writes bench/results/latest.json. Exits non-zero only when a case
 * errors; a missed target is printed, not failed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { daemonCase } from "./cases/daemon.js";
import { fleetCase } from "./cases/fleet.js";
import { heartbeatCase } from "./cases/heartbeat.js";
import { ingestCase } from "./cases/ingest.js";
import { queryCase } from "./cases/query.js";
import { RESULTS_DIR } from "./lib/child.js";
import { type BenchCase, type CaseResult, renderTable } from "./lib/report.js";
import { round } from "./lib/stats.js";

const CASES: Record<string, BenchCase> = {
  ingest: ingestCase,
  heartbeat: heartbeatCase,
  fleet: fleetCase,
  daemon: daemonCase,
  query: queryCase,
};

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const stackIdx = argv.indexOf("--stack");
const stack = (stackIdx >= 0 ? argv[stackIdx + 1] : "fast") as "fast" | "connect";
if (stack !== "fast" && stack !== "connect")
  throw new Error(`--stack: fast or connect, got ${stack}`);
const onlyIdx = argv.indexOf("--only");
const only = onlyIdx >= 0 ? (argv[onlyIdx + 1] ?? "").split(",") : Object.keys(CASES);
const t0 = Date.now();
const load0 = os.loadavg()[0] ?? 0;
const log = (msg: string) =>
  process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}\n`);

const results: CaseResult[] = [];
const failures: string[] = [];
for (const name of only) {
  const run = CASES[name];
  if (!run) {
    failures.push(`${name}: no such case (${Object.keys(CASES).join(", ")})`);
    continue;
  }
  log(`case ${name} …`);
  const c0 = Date.now();
  try {
    const r = await run({ quick, stack, log });
    results.push(r);
    log(`case ${name} done in ${((Date.now() - c0) / 1000).toFixed(0)} s`);
  } catch (err) {
    failures.push(`${name}: ${(err as Error).stack ?? String(err)}`);
    log(`case ${name} FAILED: ${(err as Error).message}`);
  }
}

const cpu = os.cpus();
const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
const load = `load average ${load0.toFixed(1)} at start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at end (${cpu.length} cores shared)`;
console.log(
  `\nfleet bench ${quick ? "--quick " : ""}--stack ${stack} ${new Date().toISOString()} on ${machine}; ${load}\n`,
);
console.log(renderTable(results));
console.log("");
for (const r of results) for (const n of r.notes) console.log(`note ${r.name}: ${n}`);
for (const r of results) {
  for (const [k, v] of Object.entries(r.ratios)) console.log(`ratio ${k} ${round(v, 3)}`);
}
for (const r of results) {
  for (const [k, v] of Object.entries(r.headlines ?? {})) console.log(`${k} ${round(v, 6)}`);
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`bench took ${((Date.now() - t0) / 1000).toFixed(0)} s`);

mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(
  join(RESULTS_DIR, "latest.json"),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      quick,
      stack,
      machine,
      load,
      seconds: (Date.now() - t0) / 1000,
      results,
      failures,
    },
    null,
    2,
  )}\n`,
);
process.exitCode = failures.length ? 1 : 0;
