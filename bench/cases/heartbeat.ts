/**
 * heartbeat: raw Heartbeat RPC rate (h2load, c50 × m10) through the real
 * manager on PostgreSQL ÷ an empty handler on the manager's own RPC stack ÷ an
 * empty @grpc/grpc-js handler ÷ a raw node:http2 responder (the ceiling on
 * this machine: heartbeat_vs_raw_h2).
 * h2load only sees HTTP status, so the lean generator then checks that
 * heartbeats of 1,000 nodes come back with grpc-status 0 under load.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { HeartbeatRequestSchema } from "../../gen/manager/manager_pb.js";
import { encodeGrpcFrame } from "../../src/common/grpc-frame.js";
import { managerEnv, type ServerChild, startServerChild } from "../lib/child.js";
import { type H2loadResult, haveH2load, runH2load } from "../lib/h2load.js";
import { startLoadGenerator } from "../lib/loadgen-client.js";
import { errorCount } from "../lib/loadgen-protocol.js";
import { codeDelta, rpcCodes } from "../lib/manager-metrics.js";
import { benchNodeId } from "../lib/metric-rows.js";
import { createBenchDatabase } from "../lib/pg.js";
import { processCpuMs } from "../lib/proc.js";
import { createRawGrpcClient } from "../lib/raw-grpc.js";
import type { BenchOptions, BenchRow, CaseResult } from "../lib/report.js";
import { median } from "../lib/stats.js";

const PATH = "/manager.ManagerService/Heartbeat";
const METHOD = "manager.ManagerService/Heartbeat";
/**
 * h2load posts one node's body, so the per-node heartbeat rate limit
 * (admission.heartbeats_per_second) is off here, or it would measure refusals.
 */
const NO_NODE_RATE = { admission: { heartbeatsPerSecond: 0 } };

type Target =
  | "manager_fast"
  | "manager_connect"
  | "empty_fast"
  | "empty_connect"
  | "empty_grpcjs"
  | "raw_http2";

const LABEL: Record<Target, string> = {
  manager_fast: "manager, fast path (PostgreSQL)",
  manager_connect: "manager, connect-node path (PostgreSQL)",
  empty_fast: "empty handler, fast path",
  empty_connect: "empty handler, connect-node",
  empty_grpcjs: "empty handler, @grpc/grpc-js",
  raw_http2: "raw node:http2 responder (ceiling)",
};

export async function heartbeatCase(opts: BenchOptions): Promise<CaseResult> {
  const withH2load = await haveH2load();
  const seconds = opts.quick ? 3 : 10;
  const rounds = opts.quick ? 1 : 3;
  const prefix = "hb";
  const nodes = 1000;
  const notes: string[] = [];
  if (!withH2load) {
    notes.push(
      "h2load not found (apt-get install -y nghttp2-client): rates come from the lean generator, 500 in flight, whose CPU shares the machine",
    );
  }

  const db = await createBenchDatabase("heartbeat");
  const servers: Partial<Record<Target, ServerChild>> = {};
  const gen = await startLoadGenerator();
  try {
    // Both managers share one database; each registers the nodes it is sent.
    servers.manager_fast = await startServerChild("manager.ts", {
      name: "heartbeat-manager-fast",
      env: managerEnv(db.url, "fast", NO_NODE_RATE),
    });
    servers.manager_connect = await startServerChild("manager.ts", {
      name: "heartbeat-manager-connect",
      env: managerEnv(db.url, "connect", NO_NODE_RATE),
    });
    servers.empty_fast = await startServerChild("empty-fast.ts", { name: "heartbeat-empty-fast" });
    servers.empty_connect = await startServerChild("empty-connect.ts", {
      name: "heartbeat-empty-connect",
    });
    servers.empty_grpcjs = await startServerChild("empty-grpcjs.ts", {
      name: "heartbeat-empty-grpcjs",
    });
    servers.raw_http2 = await startServerChild("empty-h2.ts", { name: "heartbeat-raw-h2" });

    const own: Target = opts.stack === "fast" ? "manager_fast" : "manager_connect";
    const ownEmpty: Target = opts.stack === "fast" ? "empty_fast" : "empty_connect";
    const managerUrl = (servers[own] as ServerChild).grpcUrl;
    const reg = await gen.run(
      {
        op: "register",
        url: managerUrl,
        prefix,
        from: 0,
        to: nodes,
        concurrency: 50,
        maxSeconds: 120,
      },
      150_000,
    );
    if (reg.ok !== nodes) throw new Error(`registering: ${reg.ok}/${nodes} ok, ${reg.firstError}`);

    const body = encodeGrpcFrame(
      toBinary(
        HeartbeatRequestSchema,
        create(HeartbeatRequestSchema, {
          nodeId: benchNodeId(prefix, 0),
          timestamp: BigInt(Math.floor(Date.now() / 1000)),
        }),
      ),
    );
    // h2load cannot read grpc-status: check this exact body is answered OK everywhere first.
    for (const [name, s] of Object.entries(servers)) {
      const c = createRawGrpcClient(s.grpcUrl, 1);
      const r = await c.call(PATH, body);
      c.close();
      if (r.status !== 0) throw new Error(`${name}: heartbeat answered ${r.status} ${r.message}`);
    }

    const runs: Record<Target, H2loadResult[]> = {
      manager_fast: [],
      manager_connect: [],
      empty_fast: [],
      empty_connect: [],
      empty_grpcjs: [],
      raw_http2: [],
    };
    for (let round = 0; round < rounds; round++) {
      for (const t of Object.keys(runs) as Target[]) {
        const s = servers[t] as ServerChild;
        const isManager = t.startsWith("manager");
        const before = isManager ? await rpcCodes(s.httpUrl, METHOD) : {};
        const r = withH2load
          ? await runH2load({ url: `${s.grpcUrl}${PATH}`, body, seconds, serverPid: s.pid })
          : await generatorRun(gen, s, prefix, nodes, seconds);
        if (r.failed > 0) notes.push(`${t}: h2load saw ${r.failed} failed requests`);
        if (isManager) {
          // The manager's own counters tell answered-OK from gRPC errors h2load cannot see.
          const codes = codeDelta(before, await rpcCodes(s.httpUrl, METHOD));
          const bad = Object.entries(codes).filter(([c]) => c !== "OK");
          if (bad.length)
            notes.push(
              `${t}: gRPC errors under h2load ${JSON.stringify(Object.fromEntries(bad))} (OK ${codes.OK ?? 0})`,
            );
        }
        runs[t].push(r);
        opts.log(
          `heartbeat round ${round + 1}/${rounds} ${t}: ${Math.round(r.reqPerSec)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, server ${r.serverCores.toFixed(2)} cores, h2load ${r.h2loadCores.toFixed(2)} cores`,
        );
      }
    }

    // Under h2load every call was for one node; now 1,000 nodes, checking grpc-status.
    const check = await gen.run(
      {
        op: "heartbeats",
        url: managerUrl,
        prefix,
        nodes,
        concurrency: 200,
        seconds: opts.quick ? 2 : 5,
      },
      60_000,
    );
    const checkErrors = errorCount(check);
    if (checkErrors > 0) {
      notes.push(
        `heartbeat check: ${checkErrors} errors ${JSON.stringify(check.errors)} (${check.firstError})`,
      );
    }

    const med = (t: Target, f: (r: H2loadResult) => number) => median(runs[t].map(f));
    const rate = (t: Target) => med(t, (r) => r.reqPerSec);
    const rows: BenchRow[] = (Object.keys(runs) as Target[]).map((t) => ({
      measure: `${LABEL[t]} req/s`,
      value: rate(t),
      unit: "req/s",
      note: `p50 ${med(t, (r) => r.p50Ms).toFixed(1)} ms, p99 ${med(t, (r) => r.p99Ms).toFixed(1)} ms; server ${med(t, (r) => r.serverCores).toFixed(2)} cores, h2load ${med(t, (r) => r.h2loadCores).toFixed(2)} cores`,
    }));
    rows.push({
      measure: `manager (${opts.stack}), 1,000 nodes, lean generator`,
      value: check.ok / check.seconds,
      unit: "req/s",
      note: `${checkErrors} errors of ${check.requests}; p50 ${check.p50Ms.toFixed(1)} ms, p99 ${check.p99Ms.toFixed(1)} ms, 200 in flight; generator ${check.generatorCores.toFixed(2)} cores`,
    });
    notes.push(
      `h2load -c50 -m10 -D${seconds}s, median of ${rounds} interleaved round(s); one node's heartbeat body (h2load posts one body); ratios use the ${opts.stack} stack`,
    );
    return {
      name: "heartbeat",
      rows,
      ratios: {
        heartbeat_vs_empty_own: rate(own) / rate(ownEmpty),
        heartbeat_vs_empty_grpcjs: rate(own) / rate("empty_grpcjs"),
        heartbeat_vs_raw_h2: rate(own) / rate("raw_http2"),
        heartbeat_connect_vs_empty_connect: rate("manager_connect") / rate("empty_connect"),
        heartbeat_fast_vs_connect: rate("manager_fast") / rate("manager_connect"),
        empty_fast_vs_empty_grpcjs: rate("empty_fast") / rate("empty_grpcjs"),
        empty_connect_vs_empty_grpcjs: rate("empty_connect") / rate("empty_grpcjs"),
        empty_fast_vs_raw_http2: rate("empty_fast") / rate("raw_http2"),
      },
      notes,
    };
  } finally {
    await gen.stop();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    await db.drop();
  }
}

/** Without h2load: the lean generator, closed loop, 500 in flight, in the same shape as h2load's result. */
async function generatorRun(
  gen: Awaited<ReturnType<typeof startLoadGenerator>>,
  s: ServerChild,
  prefix: string,
  nodes: number,
  seconds: number,
): Promise<H2loadResult> {
  const cpu0 = processCpuMs(s.pid);
  const t0 = performance.now();
  const r = await gen.run(
    { op: "heartbeats", url: s.grpcUrl, prefix, nodes, concurrency: 500, seconds, sessions: 50 },
    (seconds + 60) * 1000,
  );
  return {
    reqPerSec: r.ok / r.seconds,
    requests: r.requests,
    failed: errorCount(r),
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    serverCores: (processCpuMs(s.pid) - cpu0) / (performance.now() - t0),
    h2loadCores: r.generatorCores,
  };
}
