import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Wall time (ms) the process was spawned. */
  readonly startedAt: number;
  /** Wall time (ms) it exited, 0 while running. */
  exitedAt: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM (or `signal`), SIGKILL after graceMs; resolves with the exit. */
  stop(
    graceMs?: number,
    signal?: NodeJS.Signals,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every process the suite started and that still runs: the runner kills what a scenario left. */
export const live = new Set<Proc>();

/** Spawns a process with stdout and stderr appended to `log`. */
export function spawnProc(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; log: string; cwd?: string },
): Proc {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = createWriteStream(opts.log, { flags: "a" });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const p: Proc = {
    name,
    child,
    pid: child.pid ?? 0,
    startedAt: Date.now(),
    exitedAt: 0,
    exited: new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        p.exitedAt = Date.now();
        live.delete(p);
        resolve({ code, signal });
      }),
    ),
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    kill(signal) {
      if (p.running) child.kill(signal);
    },
    async stop(graceMs = 20_000, signal = "SIGTERM") {
      if (p.running) {
        child.kill(signal);
        const t = setTimeout(() => p.kill("SIGKILL"), graceMs);
        const r = await p.exited;
        clearTimeout(t);
        return r;
      }
      return p.exited;
    },
  };
  live.add(p);
  return p;
}

/** Polls until check() is truthy; throws naming `what` after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs: number,
  everyMs = 200,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (${(last as Error).message})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
