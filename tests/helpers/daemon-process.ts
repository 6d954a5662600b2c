import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/common/package-root.js";
import type { LogEvent } from "./daemon-harness.js";

const root = packageRoot();

export interface DaemonProcess {
  child: ChildProcess;
  events: LogEvent[];
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves at the first log event matching, counting from now. */
  next(match: (e: LogEvent) => boolean, timeoutMs?: number): Promise<LogEvent>;
}

/** Spawns the real daemon: `node --import tsx src/daemon/main.ts ...args`. */
export function spawnDaemon(args: string[], env: Record<string, string> = {}): DaemonProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/daemon/main.ts", ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: "", MANAGER_ADDRESS: "", NODE_NAME: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: LogEvent[] = [];
  let out = "";
  let err = "";
  let partial = "";
  const listeners = new Set<(e: LogEvent) => void>();
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
    const lines = (partial + d.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (process.env.TEST_LOG_LEVEL === "debug") process.stderr.write(`[daemon] ${line}\n`);
      if (!line.startsWith("{")) continue;
      const e = JSON.parse(line) as LogEvent;
      events.push(e);
      for (const l of listeners) l(e);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    events,
    stdout: () => out,
    stderr: () => err,
    exited,
    next(match, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          listeners.delete(l);
          reject(new Error(`no matching daemon log event within ${timeoutMs} ms`));
        }, timeoutMs);
        const l = (e: LogEvent) => {
          if (!match(e)) return;
          clearTimeout(t);
          listeners.delete(l);
          resolve(e);
        };
        listeners.add(l);
      });
    },
  };
}

/** A daemon.yaml with 1 s collectors and fast reconnects. */
export function writeDaemonYaml(dir: string, address: string, id: string, extra = ""): string {
  const file = join(dir, "daemon.yaml");
  writeFileSync(
    file,
    `daemon: { id: "${id}", log_level: debug, work_dir: "${dir}" }
manager: { address: "${address}", heartbeat_interval: 1s, reconnect_interval: 200ms, timeout: 2s }
collectors:
  cpu: { interval: 1s }
  memory: { interval: 1s }
  disk: { interval: 1s }
  network: { interval: 1s, interfaces: [lo] }
${extra}`,
  );
  return file;
}
