/**
 * daemon: RSS and CPU of a real fleet-daemon (built JavaScript, shipped
 * defaults, reporting to a real manager) sampled every 10 s over a window,
 * beside a bare `node` process, the transport floor (a node process that
 * imports only what the daemon's transport needs — connect-node, protobuf-es,
 * the generated manager code — and idles) and Debian's
 * prometheus-node-exporter being scraped every 15 s (its own job), all in the
 * same window.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildForBench } from "../lib/build.js";
import { managerEnv, REPO_DIR, startServerChild, stopChild } from "../lib/child.js";
import { createBenchDatabase } from "../lib/pg.js";
import { processCpuMs, processRssBytes } from "../lib/proc.js";
import type { BenchOptions, BenchRow, CaseResult } from "../lib/report.js";
import { median } from "../lib/stats.js";

const MiB = 1024 * 1024;
const EXPORTER = "prometheus-node-exporter";

/** The floor's module: the daemon's mandated transport, imported from the same build, then idle. */
function transportFloorSource(daemonMain: string): string {
  const gen = pathToFileURL(join(dirname(daemonMain), "../../gen/manager/manager_pb.js")).href;
  return [
    `await import("@connectrpc/connect-node");`,
    `await import("@bufbuild/protobuf");`,
    `await import(${JSON.stringify(gen)});`,
    "setInterval(() => {}, 1 << 30);",
  ].join("\n");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

function haveExporter(): boolean {
  try {
    execFileSync(EXPORTER, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

interface Watched {
  name: string;
  pid: number;
  rss: number[];
  cpu0: number;
  cpu1: number;
}

export async function daemonCase(opts: BenchOptions): Promise<CaseResult> {
  const windowS = opts.quick ? 30 : 300;
  const sampleS = 10;
  const notes: string[] = [];
  const daemonMain = await buildForBench();
  const db = await createBenchDatabase("daemon");
  const work = mkdtempSync(join(tmpdir(), "fleet-bench-daemon-"));
  const manager = await startServerChild("manager.ts", {
    name: "daemon-manager",
    env: managerEnv(db.url, opts.stack),
  });
  const children: ChildProcess[] = [];
  let scrape: NodeJS.Timeout | undefined;
  try {
    const address = manager.grpcUrl.replace(/^http:\/\//, "");
    writeFileSync(
      join(work, "daemon.yaml"),
      `daemon: { id: bench-daemon, log_level: warn, work_dir: ${JSON.stringify(join(work, "state"))} }\nmanager: { address: "${address}" }\n`,
    );
    const daemon = spawn(process.execPath, [daemonMain, "--config", join(work, "daemon.yaml")], {
      cwd: REPO_DIR,
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(daemon);
    const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1 << 30)"], {
      stdio: "ignore",
    });
    children.push(bare);
    const floor = spawn(
      process.execPath,
      ["--input-type=module", "-e", transportFloorSource(daemonMain)],
      { cwd: REPO_DIR, stdio: ["ignore", "ignore", "inherit"] },
    );
    children.push(floor);
    const watched: Watched[] = [
      { name: "fleet-daemon", pid: daemon.pid as number, rss: [], cpu0: 0, cpu1: 0 },
      { name: "bare node", pid: bare.pid as number, rss: [], cpu0: 0, cpu1: 0 },
      { name: "transport floor", pid: floor.pid as number, rss: [], cpu0: 0, cpu1: 0 },
    ];
    if (haveExporter()) {
      const port = await freePort();
      const exporter = spawn(EXPORTER, [`--web.listen-address=127.0.0.1:${port}`], {
        stdio: "ignore",
      });
      children.push(exporter);
      watched.push({ name: EXPORTER, pid: exporter.pid as number, rss: [], cpu0: 0, cpu1: 0 });
      const url = `http://127.0.0.1:${port}/metrics`;
      const doScrape = () =>
        fetch(url)
          .then((r) => r.text())
          .catch(() => "");
      scrape = setInterval(doScrape, 15_000);
    } else {
      notes.push(
        `${EXPORTER} not installed (apt-get install -y ${EXPORTER}): its column is skipped`,
      );
    }

    // Let everything start (daemon registers, first collection), then measure.
    await new Promise((r) => setTimeout(r, 5000));
    for (const w of watched) w.cpu0 = processCpuMs(w.pid);
    const w0 = performance.now();
    for (let t = 0; t <= windowS; t += sampleS) {
      for (const w of watched) w.rss.push(processRssBytes(w.pid));
      if (t < windowS) await new Promise((r) => setTimeout(r, sampleS * 1000));
    }
    const wallMs = performance.now() - w0;
    for (const w of watched) w.cpu1 = processCpuMs(w.pid);
    if (daemon.exitCode !== null) throw new Error(`fleet-daemon exited with ${daemon.exitCode}`);
    if (floor.exitCode !== null) throw new Error(`transport floor exited with ${floor.exitCode}`);

    const [d, b, f] = watched as [Watched, Watched, Watched, ...Watched[]];
    const cpuPct = (w: Watched) => ((w.cpu1 - w.cpu0) / wallMs) * 100;
    const rows: BenchRow[] = watched.map((w) => ({
      measure: `${w.name} RSS max / median`,
      value: `${(Math.max(...w.rss) / MiB).toFixed(1)} / ${(median(w.rss) / MiB).toFixed(1)}`,
      unit: "MiB",
      note: `CPU ${cpuPct(w).toFixed(3)} % of a core over ${(wallMs / 1000).toFixed(0)} s, ${w.rss.length} samples`,
    }));
    notes.push(
      "fleet-daemon runs as built JavaScript with shipped defaults (60 s heartbeat and collectors); node-exporter is scraped every 15 s",
    );
    const ratios: Record<string, number> = {
      daemon_rss_vs_transport_floor: Math.max(...d.rss) / Math.max(...f.rss),
      daemon_rss_vs_bare_node: Math.max(...d.rss) / Math.max(...b.rss),
    };
    const exp = watched[3];
    if (exp) ratios.daemon_rss_vs_node_exporter = Math.max(...d.rss) / Math.max(...exp.rss);
    return {
      name: "daemon",
      rows,
      ratios,
      headlines: { daemon_cpu_percent: cpuPct(d), daemon_rss_mib: Math.max(...d.rss) / MiB },
      notes,
    };
  } finally {
    if (scrape) clearInterval(scrape);
    await Promise.all(children.map((c) => stopChild(c, 5000)));
    await manager.stop();
    await db.drop();
    rmSync(work, { recursive: true, force: true });
  }
}
