/**
 * Daemon footprint: runs a real manager (embedded PGlite in a temp dir) and the
 * real daemon process with every collector at 1 s, samples the daemon's RSS
 * from /proc/<pid>/status, and prints the samples and a least-squares trend
 * over the run after a warm-up.
 *
 *   node --import tsx scripts/daemon-footprint.ts [minutes=10] [sampleSeconds=15] [--dist] [--trace-gc]
 *
 * --dist runs the compiled daemon (`npm run build` first), as installed
 * packages do; without it the daemon runs through tsx, which adds the
 * TypeScript loader's own memory.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { createLogger } from "../src/common/logging.js";
import { packageRoot } from "../src/common/package-root.js";
import { MANAGER_DEFAULTS } from "../src/manager/config.js";
import { metrics } from "../src/manager/db/schema/metrics.js";
import { createManager } from "../src/manager/server.js";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
// --trace-gc: V8 prints every collection on the daemon's stdout; the heap after
// each Mark-Compact is the live set, the number that shows a leak.
const traceGc = process.argv.includes("--trace-gc");
const useDist = process.argv.includes("--dist");
const minutes = Number(args[0] ?? 10);
const sampleSeconds = Number(args[1] ?? 15);
const root = packageRoot();
const dir = mkdtempSync(join(tmpdir(), "fleet-footprint-"));

const manager = createManager(
  {
    ...MANAGER_DEFAULTS,
    grpcAddr: { host: "127.0.0.1", port: 0 },
    httpAddr: { host: "127.0.0.1", port: 0 },
    dataDir: join(dir, "db"),
    heartbeatIntervalSeconds: 1,
    logLevel: "warn",
  },
  { logger: createLogger("fleet-manager", "warn") },
);
await manager.start();
const config = join(dir, "daemon.yaml");
writeFileSync(
  config,
  `daemon: { id: footprint, log_level: warn, work_dir: "${join(dir, "work")}" }
manager: { address: "${new URL(manager.grpcUrl).host}", heartbeat_interval: 1s, reconnect_interval: 1s }
collectors:
  cpu: { interval: 1s }
  memory: { interval: 1s }
  disk: { interval: 1s }
  network: { interval: 1s }
`,
);
const entry = useDist ? ["dist/src/daemon/main.js"] : ["--import", "tsx", "src/daemon/main.ts"];
const daemon = spawn(
  process.execPath,
  [...(traceGc ? ["--trace-gc"] : []), ...entry, "--config", config],
  {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
  },
);
const rssKiB = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1]);

/** Least-squares slope of y over x. */
function leastSquaresSlope(points: [number, number][]): number {
  const mx = points.reduce((a, p) => a + p[0], 0) / points.length;
  const my = points.reduce((a, p) => a + p[1], 0) / points.length;
  return (
    points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) /
    points.reduce((a, p) => a + (p[0] - mx) ** 2, 0)
  );
}

const samples: { t: number; kib: number }[] = [];
const t0 = Date.now();
console.log(
  `daemon pid ${daemon.pid} (node ${entry.join(" ")}); ${minutes} min at 1 s intervals, RSS every ${sampleSeconds} s`,
);
while (Date.now() - t0 < minutes * 60_000) {
  await new Promise((r) => setTimeout(r, sampleSeconds * 1000));
  const s = { t: (Date.now() - t0) / 1000, kib: rssKiB() };
  samples.push(s);
  console.log(`t=${s.t.toFixed(0).padStart(5)} s  rss=${(s.kib / 1024).toFixed(1)} MiB`);
}

// Trend after a warm-up (JIT, V8 heap sizing: about three minutes of a 10-minute run), by least squares.
const warmUp = Math.min(Math.max(60, minutes * 60 * 0.3), (minutes * 60) / 2);
const steady = samples.filter((s) => s.t >= warmUp);
const n = steady.length;
const mk = steady.reduce((a, s) => a + s.kib, 0) / n;
const slope = leastSquaresSlope(steady.map((s) => [s.t, s.kib]));
const kibs = steady.map((s) => s.kib);
const status = JSON.parse(readFileSync(join(dir, "work", "status.json"), "utf8")) as {
  batches_sent: number;
  spool: { batches: number };
  last_error: unknown;
};
console.log(
  `steady state (t >= ${warmUp} s, ${n} samples): min ${(Math.min(...kibs) / 1024).toFixed(1)} MiB, ` +
    `max ${(Math.max(...kibs) / 1024).toFixed(1)} MiB, mean ${(mk / 1024).toFixed(1)} MiB, ` +
    `trend ${((slope * 3600) / 1024).toFixed(2)} MiB/hour`,
);
console.log(
  `daemon status: ${status.batches_sent} batches sent, ${status.spool.batches} spooled, last error ${JSON.stringify(status.last_error)}`,
);

// The daemon reports its own heap every second (type=daemon). The per-minute
// minimum is the heap after collection, so its trend is the one that shows a leak.
const rows = await manager.database.db
  .select({ ts: metrics.ts, values: metrics.values })
  .from(metrics)
  .where(and(eq(metrics.nodeId, "footprint"), eq(metrics.type, "daemon")));
const floors = new Map<number, number>();
for (const r of rows) {
  const t = (r.ts.getTime() - t0) / 1000;
  const heap = r.values.heap_used_bytes;
  if (t < warmUp || heap === undefined) continue;
  const minute = Math.floor(t / 60);
  floors.set(minute, Math.min(floors.get(minute) ?? Number.POSITIVE_INFINITY, heap));
}
const floorPoints = [...floors].sort((a, b) => a[0] - b[0]);
console.log(
  `heap floor per minute (MiB): ${floorPoints.map(([m, h]) => `${m}:${(h / 2 ** 20).toFixed(1)}`).join(" ")}`,
);
if (floorPoints.length >= 2) {
  const heapSlope = leastSquaresSlope(floorPoints.map(([m, h]) => [m * 60, h]));
  console.log(`heap floor trend ${((heapSlope * 3600) / 2 ** 20).toFixed(2)} MiB/hour`);
}
daemon.kill("SIGTERM");
await new Promise((r) => daemon.once("exit", r));
await manager.stop();
