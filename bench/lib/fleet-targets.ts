/**
 * What the fleet case points its simulated nodes at: one manager process, the
 * real `fleet-manager --workers auto` bin (node:cluster), two manager
 * replicas behind HAProxy (HTTP/2 on both sides), or the seed-design baseline.
 * Each reports the pids whose CPU is "the server" and where its /metrics are.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startHaproxy } from "../../faults/lib/haproxy.js";
import {
  BENCH_DIR,
  managerEnv,
  REPO_DIR,
  RESULTS_DIR,
  type Stack,
  startServerChild,
  stopChild,
} from "./child.js";
import { treeCpuMs } from "./proc.js";

export interface FleetTarget {
  readonly label: string;
  readonly grpcUrl: string;
  /** Each server process's HTTP port (its /metrics); empty when it has none. */
  readonly httpUrls: string[];
  /** Server processes; CPU counts each with its direct children (cluster workers). */
  readonly pids: number[];
  /** The load balancer's pid, measured apart. */
  readonly lbPid?: number;
  stop(): Promise<void>;
}

export const SEED_DESIGN_SCRIPT = join(BENCH_DIR, "servers", "seed-design.ts");

export async function singleManager(
  dbUrl: string,
  stack: Stack,
  execArgv: string[] = [],
): Promise<FleetTarget> {
  const m = await startServerChild("manager.ts", {
    name: "fleet-manager",
    execArgv,
    env: managerEnv(dbUrl, stack),
  });
  return {
    label: "one manager process",
    grpcUrl: m.grpcUrl,
    httpUrls: [m.httpUrl],
    pids: [m.pid],
    stop: m.stop,
  };
}

/** The shipped bin, `fleet-manager --workers auto`, as an operator runs it (under tsx). */
export async function workersManager(dbUrl: string): Promise<FleetTarget> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "src/manager/main.ts", "--workers", "auto"],
    {
      cwd: REPO_DIR,
      env: {
        ...process.env,
        DATABASE_URL: dbUrl,
        FLEET_GRPC_ADDR: "127.0.0.1:0",
        FLEET_HTTP_ADDR: "127.0.0.1:0",
        FLEET_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const log = createWriteStream(join(RESULTS_DIR, "fleet-manager-workers.log"));
  const ports = await new Promise<{ grpc: string; http: string }>((resolve, reject) => {
    let listening: { grpc: string; http: string } | undefined;
    let serving = false;
    // A manager that never got ready must not outlive the case (it would keep the bench alive).
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("fleet-manager --workers: not serving within 60 s"));
    }, 60_000);
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
      log.write(`${line}\n`);
      let l: { msg?: string; grpc?: string; http?: string };
      try {
        l = JSON.parse(line);
      } catch {
        return;
      }
      // The primary's "cluster serving" and a worker's "manager listening"
      // arrive in either order (two processes, one stderr).
      if (l.msg === "manager listening" && l.grpc && l.http)
        listening = { grpc: l.grpc, http: l.http };
      if (l.msg === "cluster serving") serving = true;
      if (serving && listening) {
        clearTimeout(timer);
        resolve(listening);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `fleet-manager --workers exited ${code}; see bench/results/fleet-manager-workers.log`,
        ),
      );
    });
  });
  return {
    label: `fleet-manager --workers auto (${availableParallelism()} workers)`,
    grpcUrl: ports.grpc,
    httpUrls: [ports.http],
    pids: [child.pid as number],
    stop: () => stopChild(child, 25_000),
  };
}

/** Two manager processes on one database behind HAProxy (`mode http`, `proto h2` both sides). */
export async function twoReplicas(dbUrl: string, stack: Stack): Promise<FleetTarget> {
  const a = await startServerChild("manager.ts", {
    name: "fleet-replica-a",
    env: managerEnv(dbUrl, stack),
  });
  const b = await startServerChild("manager.ts", {
    name: "fleet-replica-b",
    env: managerEnv(dbUrl, stack),
  });
  const port = (u: string) => Number(new URL(u).port);
  const lb = await startHaproxy(mkdtempSync(join(tmpdir(), "fleet-bench-haproxy-")), [
    { name: "a", port: port(a.grpcUrl) },
    { name: "b", port: port(b.grpcUrl) },
  ]);
  return {
    label: "two replicas behind HAProxy",
    grpcUrl: `http://127.0.0.1:${lb.port}`,
    httpUrls: [a.httpUrl, b.httpUrl],
    pids: [a.pid, b.pid],
    lbPid: lb.pid,
    async stop() {
      await lb.stop(5000);
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/** The seed's design (one INSERT per report, one UPDATE per heartbeat), from helper ingest. */
export async function seedDesign(dbUrl: string, stack: Stack): Promise<FleetTarget | undefined> {
  if (!existsSync(SEED_DESIGN_SCRIPT)) return undefined;
  const m = await startServerChild("seed-design.ts", {
    name: "fleet-seed-design",
    env: managerEnv(dbUrl, stack),
  });
  return {
    label: "seed design",
    grpcUrl: m.grpcUrl,
    httpUrls: m.httpUrl.endsWith(":0") ? [] : [m.httpUrl],
    pids: [m.pid],
    stop: m.stop,
  };
}

/** CPU of a target's processes (with their children) since the last reset, in cores. */
export function targetCpuMeter(pids: readonly number[]) {
  const total = () => pids.reduce((s, p) => s + safe(() => treeCpuMs(p)), 0);
  let c0 = total();
  let t0 = performance.now();
  return {
    reset() {
      c0 = total();
      t0 = performance.now();
    },
    cores() {
      const dt = performance.now() - t0;
      return dt > 0 ? (total() - c0) / dt : 0;
    },
  };
}

const safe = (f: () => number) => {
  try {
    return f();
  } catch {
    return 0; // the process is gone
  }
};

/**
 * The worst value of each unlabelled gauge over the target's processes, from
 * one scrape per process (a scrape resets the event-loop histograms); NaN
 * where no process exposes it.
 */
export async function worstMetrics(
  target: FleetTarget,
  names: readonly string[],
): Promise<number[]> {
  return (await samplesOf(target, names)).map((vs) => (vs.length ? Math.max(...vs) : Number.NaN));
}

/** The same samples summed over the target's processes (counters such as GC seconds). */
export async function summedMetrics(
  target: FleetTarget,
  names: readonly string[],
): Promise<number[]> {
  return (await samplesOf(target, names)).map((vs) =>
    vs.length ? vs.reduce((a, b) => a + b, 0) : Number.NaN,
  );
}

/** Each name's value in each process's /metrics; a name may carry labels: `x{kind="major"}`. */
async function samplesOf(target: FleetTarget, names: readonly string[]): Promise<number[][]> {
  const texts = await Promise.all(
    target.httpUrls.map((u) =>
      fetch(`${u}/metrics`)
        .then((r) => r.text())
        .catch(() => ""),
    ),
  );
  return names.map((name) =>
    texts
      .map((t) => t.split("\n").find((l) => l.startsWith(`${name} `)))
      .map((l) => (l ? Number(l.slice(name.length + 1)) : Number.NaN))
      .filter((v) => Number.isFinite(v)),
  );
}
