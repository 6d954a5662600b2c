import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { inject } from "vitest";
import { packageRoot } from "../../src/common/package-root.js";
import { tempDir } from "./daemon-harness.js";

export interface ManagerLog {
  msg: string;
  level: number;
  [k: string]: unknown;
}

export interface ManagerProcess {
  child: ChildProcess;
  logs: ManagerLog[];
  grpcUrl: string;
  httpUrl: string;
  /** Resident set size of the process now (bytes), from /proc. */
  rss(): number;
  /** Resolves at the first log line matching, among those seen so far or to come. */
  waitLog(match: (l: ManagerLog) => boolean, timeoutMs?: number): Promise<ManagerLog>;
  stop(): Promise<void>;
}

/**
 * Runs the real manager (`node --import tsx src/manager/main.ts`) on 127.0.0.1
 * port 0 against the test database: the shared PostgreSQL one, else a PGlite
 * folder of its own. Resolves once it logs "manager listening".
 */
export async function spawnManager(
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<ManagerProcess> {
  const url = inject("databaseUrl");
  const child = spawn(process.execPath, ["--import", "tsx", "src/manager/main.ts", ...args], {
    cwd: packageRoot(),
    env: {
      ...process.env,
      ...(url
        ? { DATABASE_URL: url }
        : { DATABASE_URL: "", FLEET_DATA_DIR: tempDir("fleet-mgr-") }),
      TEST_DATABASE_URL: "",
      FLEET_GRPC_ADDR: "127.0.0.1:0",
      FLEET_HTTP_ADDR: "127.0.0.1:0",
      FLEET_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const logs: ManagerLog[] = [];
  const listeners = new Set<() => void>();
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    if (process.env.TEST_LOG_LEVEL === "debug") process.stderr.write(`[manager] ${line}\n`);
    try {
      logs.push(JSON.parse(line) as ManagerLog);
    } catch {
      logs.push({ msg: line, level: 50 });
    }
    for (const l of listeners) l();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const waitLog = (match: (l: ManagerLog) => boolean, timeoutMs = 60_000) =>
    new Promise<ManagerLog>((resolve, reject) => {
      const look = () => {
        const found = logs.find(match);
        if (!found) return false;
        listeners.delete(look);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        listeners.delete(look);
        reject(
          new Error(
            `no matching manager log line within ${timeoutMs} ms; last: ${JSON.stringify(logs.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      if (!look()) listeners.add(look);
      void exited.then(() => {
        if (listeners.delete(look)) {
          clearTimeout(timer);
          reject(new Error(`manager exited; logs: ${JSON.stringify(logs.slice(-10))}`));
        }
      });
    });
  const listening = (await waitLog((l) => l.msg === "manager listening")) as ManagerLog & {
    grpc: string;
    http: string;
  };
  return {
    child,
    logs,
    grpcUrl: listening.grpc,
    httpUrl: listening.http,
    waitLog,
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return Number(kb ?? 0) * 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * A real process (`node --import tsx …args`) on the embedded database whatever
 * the test run itself uses (no DATABASE_URL: managers are PGlite in their own
 * data directories), its output collected.
 */
export function spawnEmbedded(args: string[], env: Record<string, string> = {}) {
  const { DATABASE_URL: _url, TEST_DATABASE_URL: _test, ...inherited } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: packageRoot(),
    env: { ...inherited, FLEET_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  child.stdout?.on("data", (d) => {
    out.stdout += d;
  });
  child.stderr?.on("data", (d) => {
    out.stderr += d;
  });
  return { child, out, exited: once(child, "exit").then(([code]) => code as number | null) };
}
