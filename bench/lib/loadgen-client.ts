import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { BENCH_DIR, REPO_DIR, stopChild } from "./child.js";
import type { GenCommand, GenResult } from "./loadgen-protocol.js";

/** Starts the load generator child process (bench/lib/loadgen.ts). */
export async function startLoadGenerator() {
  const child: ChildProcess = fork(join(BENCH_DIR, "lib", "loadgen.ts"), [], {
    cwd: REPO_DIR,
    // BENCH_GEN_NODE_ARGS="--trace-gc": node flags for the generator (a debug knob).
    execArgv: [
      ...(process.env.BENCH_GEN_NODE_ARGS ?? "").split(" ").filter(Boolean),
      "--import",
      "tsx",
    ],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`load generator exited (${code})`)));
  });
  return {
    pid: child.pid as number,
    /** Runs one command; rejects if it errors or outlives timeoutMs. */
    run(cmd: GenCommand, timeoutMs: number): Promise<GenResult> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off("message", onMsg);
          reject(new Error(`load generator: ${cmd.op} took over ${timeoutMs} ms`));
        }, timeoutMs);
        const onMsg = (m: unknown) => {
          clearTimeout(timer);
          child.off("message", onMsg);
          const msg = m as { ok: boolean; res?: GenResult; error?: string };
          if (msg.ok && msg.res) resolve(msg.res);
          else reject(new Error(`load generator: ${msg.error}`));
        };
        child.on("message", onMsg);
        child.send(cmd);
      });
    },
    async stop(): Promise<void> {
      if (child.connected) child.send({ op: "exit" });
      await stopChild(child, 3000);
    },
  };
}

export type LoadGenerator = Awaited<ReturnType<typeof startLoadGenerator>>;
