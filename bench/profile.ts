/**
 * `node --import tsx bench/profile.ts [manager|empty-connect|empty-fast|…] [seconds] [fast|connect]`:
 * runs one server under `node --cpu-prof` while h2load sends Heartbeat RPCs
 * (c50 × m10), then prints where the server's CPU time went (self time by
 * package and by function). Profiles land in bench/results/prof/.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { HeartbeatRequestSchema } from "../gen/manager/manager_pb.js";
import { encodeGrpcFrame } from "../src/common/grpc-frame.js";
import { managerEnv, RESULTS_DIR, type Stack, startServerChild } from "./lib/child.js";
import { summarizeProfile } from "./lib/cpuprofile.js";
import { runH2load } from "./lib/h2load.js";
import { startLoadGenerator } from "./lib/loadgen-client.js";
import { createBenchDatabase } from "./lib/pg.js";

const target = process.argv[2] ?? "manager";
const seconds = Number(process.argv[3] ?? 8);
const stack = (process.argv[4] ?? "fast") as Stack;
const dir = join(RESULTS_DIR, "prof", target === "manager" ? `manager-${stack}` : target);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const db = target === "manager" ? await createBenchDatabase("profile") : undefined;
const server = await startServerChild(`${target}.ts`, {
  name: `profile-${target}`,
  execArgv: ["--cpu-prof", `--cpu-prof-dir=${dir}`],
  // One node id only: the per-node heartbeat rate limit would turn the run into refusals.
  env: db ? managerEnv(db.url, stack, { admission: { heartbeatsPerSecond: 0 } }) : {},
});
try {
  if (db) {
    const gen = await startLoadGenerator();
    await gen.run(
      {
        op: "register",
        url: server.grpcUrl,
        prefix: "prof",
        from: 0,
        to: 1,
        concurrency: 1,
        maxSeconds: 10,
      },
      20_000,
    );
    await gen.stop();
  }
  const body = encodeGrpcFrame(
    toBinary(
      HeartbeatRequestSchema,
      create(HeartbeatRequestSchema, {
        nodeId: "prof-0",
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
      }),
    ),
  );
  const r = await runH2load({
    url: `${server.grpcUrl}/manager.ManagerService/Heartbeat`,
    body,
    seconds,
    serverPid: server.pid,
  });
  console.log(
    `${target}: ${Math.round(r.reqPerSec)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, server ${r.serverCores.toFixed(2)} cores, failed ${r.failed}`,
  );
} finally {
  await server.stop();
  await db?.drop();
}
const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
if (!file) throw new Error(`no profile written in ${dir}`);
const s = summarizeProfile(join(dir, file));
console.log(
  `profile ${join(dir, file)}: wall ${s.wallMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms`,
);
console.log("self time by package:");
for (const b of s.buckets)
  console.log(
    `  ${(b.share * 100).toFixed(1).padStart(5)} %  ${b.ms.toFixed(0).padStart(6)} ms  ${b.name}`,
  );
console.log("top functions (self):");
for (const f of s.functions)
  console.log(
    `  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`,
  );
