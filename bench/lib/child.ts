import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, "results");
export const REPO_DIR = join(BENCH_DIR, "..");

export interface ServerChild {
  readonly pid: number;
  readonly grpcUrl: string;
  readonly httpUrl: string;
  stop(): Promise<void>;
}

/**
 * Runs a bench/servers/*.ts script in its own process (so its CPU is its own
 * and the load generator never shares its event loop) and waits for its
 * `READY {"grpcPort":…}` line. stderr goes to bench/results/<name>.log.
 */
export async function startServerChild(
  script: string,
  opts: { env?: Record<string, string>; execArgv?: string[]; name?: string } = {},
): Promise<ServerChild> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const name = opts.name ?? script.replace(/\W+/g, "-");
  const child = spawn(
    process.execPath,
    [...(opts.execArgv ?? []), "--import", "tsx", join(BENCH_DIR, "servers", script)],
    {
      cwd: REPO_DIR,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stderr?.pipe(createWriteStream(join(RESULTS_DIR, `${name}.log`)));
  const ready = await waitForLine(child, /^READY (.*)$/, 60_000);
  // What the server prints after READY (node's --trace-gc, say) is kept beside its log.
  child.stdout?.pipe(createWriteStream(join(RESULTS_DIR, `${name}.stdout.log`)));
  const ports = JSON.parse(ready) as { grpcPort: number; httpPort?: number };
  return {
    pid: child.pid as number,
    grpcUrl: `http://127.0.0.1:${ports.grpcPort}`,
    httpUrl: `http://127.0.0.1:${ports.httpPort ?? 0}`,
    stop: () => stopChild(child, 20_000),
  };
}

/** Resolves with the first capture group of the first stdout line matching re. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child ${child.pid}: no ${re} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString("utf8");
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = re.exec(line);
        if (m) {
          clearTimeout(timer);
          child.stdout?.off("data", onData);
          child.stdout?.resume();
          resolve(m[1] ?? "");
          return;
        }
        nl = buf.indexOf("\n");
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (code ${code}, signal ${signal}); see bench/results/`));
    });
  });
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** The RPC stack the bench runs the manager on: `--stack fast|connect` (default fast). */
export type Stack = "fast" | "connect";

/** Environment for bench/servers/manager.ts: database plus the chosen stack. */
export function managerEnv(
  databaseUrl: string,
  stack: Stack,
  config: Record<string, unknown> = {},
): Record<string, string> {
  return {
    BENCH_MANAGER_CONFIG: JSON.stringify({ databaseUrl, dataDir: "", ...config }),
    BENCH_MANAGER_OPTIONS: JSON.stringify({ fastPath: stack === "fast" }),
  };
}
