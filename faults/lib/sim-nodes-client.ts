import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { REPO } from "./build.js";
import type { SimCommand, SimStats } from "./sim-nodes.js";

/** Starts simulated nodes in their own process (so their CPU never stalls the runner's timers). */
export async function startSimNodes(o: {
  url: string;
  prefix: string;
  count: number;
  reportMs?: number;
  sessions?: number;
}) {
  const child: ChildProcess = fork(join(REPO, "faults/lib/sim-nodes.ts"), [], {
    cwd: REPO,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ask = (cmd: SimCommand, timeoutMs = 20_000) =>
    new Promise<{ ok: boolean; stats?: SimStats }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`sim nodes: no answer to ${cmd.op}`)), timeoutMs);
      child.once("message", (m) => {
        clearTimeout(t);
        resolve(m as { ok: boolean; stats?: SimStats });
      });
      child.send(cmd);
    });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`sim nodes exited (${code})`)));
  });
  await ask({
    op: "start",
    url: o.url,
    prefix: o.prefix,
    count: o.count,
    reportMs: o.reportMs ?? 0,
    sessions: o.sessions ?? 4,
  });
  return {
    pid: child.pid ?? 0,
    mark: () => ask({ op: "mark" }),
    stats: async () => (await ask({ op: "stats" })).stats as SimStats,
    async stop(): Promise<SimStats> {
      const r = await ask({ op: "stop" });
      await new Promise((resolve) =>
        child.exitCode !== null ? resolve(0) : child.once("exit", resolve),
      );
      return r.stats as SimStats;
    },
    kill: () => child.kill("SIGKILL"),
  };
}

export type SimNodes = Awaited<ReturnType<typeof startSimNodes>>;
