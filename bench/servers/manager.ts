/**
 * The real manager in its own process: createManager with MANAGER_DEFAULTS,
 * both ports on 127.0.0.1:0, plus overrides from BENCH_MANAGER_CONFIG (JSON)
 * and createManager options from BENCH_MANAGER_OPTIONS (JSON, e.g. fastPath).
 */
import { createLogger } from "../../src/common/logging.js";
import { MANAGER_DEFAULTS, type ManagerConfig } from "../../src/manager/config.js";
import { createManager } from "../../src/manager/server.js";

function merge<T>(base: T, over: unknown): T {
  if (over === null || typeof over !== "object" || Array.isArray(over)) return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out as T;
}

const overrides = JSON.parse(process.env.BENCH_MANAGER_CONFIG ?? "{}") as unknown;
const config: ManagerConfig = merge(
  {
    ...structuredClone(MANAGER_DEFAULTS),
    grpcAddr: { host: "127.0.0.1", port: 0 },
    httpAddr: { host: "127.0.0.1", port: 0 },
    logLevel: "warn",
  },
  overrides,
);
const options = JSON.parse(process.env.BENCH_MANAGER_OPTIONS ?? "{}") as {
  fastPath?: boolean;
};
const manager = createManager(config, {
  ...options,
  logger: createLogger("bench-manager", config.logLevel),
});
// BENCH_HEAP_PROF=file: V8's sampling heap profiler, counting objects a major GC
// collects but not those a scavenge does, i.e. where the promoted garbage comes from.
const heapProfile = process.env.BENCH_HEAP_PROF;
let heapSession: import("node:inspector").Session | undefined;
if (heapProfile) {
  // Starts on SIGUSR2 (after the fleet is registered, say) and is written at SIGTERM.
  const { Session } = await import("node:inspector");
  process.once("SIGUSR2", () => {
    heapSession = new Session();
    heapSession.connect();
    heapSession.post("HeapProfiler.startSampling", {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: false,
    });
  });
}
const ports = await manager.start();
process.stdout.write(`READY ${JSON.stringify(ports)}\n`);
process.once("SIGTERM", async () => {
  if (heapSession && heapProfile) {
    const { writeFileSync } = await import("node:fs");
    await new Promise<void>((resolve) =>
      heapSession?.post("HeapProfiler.stopSampling", (err, res) => {
        if (!err) writeFileSync(heapProfile, JSON.stringify(res.profile));
        resolve();
      }),
    );
  }
  manager.stop().then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
});
