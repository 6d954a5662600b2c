/**
 * The lean load generator, run as a child process (see loadgen-client.ts):
 * raw node:http2 gRPC calls with protobuf-es bodies, bounded in count and
 * time, reporting its own CPU beside every figure. Only talks to 127.0.0.1.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  HeartbeatRequestSchema,
  RegisterNodeRequestSchema,
  ReportMetricsRequestSchema,
  ReportMetricsResponseSchema,
} from "../../gen/manager/manager_pb.js";
import { encodeGrpcFrame } from "../../src/common/grpc-frame.js";
import type { GenCommand, GenResult } from "./loadgen-protocol.js";
import { benchMetric, benchNodeId } from "./metric-rows.js";
import { createRawGrpcClient, type RawGrpcClient } from "./raw-grpc.js";
import { quantile, Samples } from "./stats.js";

const PATH = {
  register: "/manager.ManagerService/RegisterNode",
  heartbeat: "/manager.ManagerService/Heartbeat",
  report: "/manager.ManagerService/ReportMetrics",
};

function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") {
    throw new Error(`load generator only targets loopback, got ${host}`);
  }
}

class Tally {
  lat = new Samples();
  ok = 0;
  errors: Record<string, number> = {};
  firstError = "";
  record(status: number, message: string, latencyMs: number): void {
    this.lat.push(latencyMs);
    if (status === 0) {
      this.ok++;
    } else {
      const key = status === -1 ? "transport" : `code_${status}`;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
      if (!this.firstError) this.firstError = `${key}: ${message}`;
    }
  }
  result(t0: number, cpu0: NodeJS.CpuUsage, extra: Record<string, number> = {}): GenResult {
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const values = this.lat.values();
    return {
      requests: values.length,
      ok: this.ok,
      errors: this.errors,
      firstError: this.firstError,
      seconds,
      p50Ms: quantile(values, 0.5),
      p99Ms: quantile(values, 0.99),
      generatorCores: (cpu.user + cpu.system) / 1000 / (seconds * 1000),
      extra,
    };
  }
}

/** Runs `count` jobs with `concurrency` workers, stopping at the deadline. */
async function closedLoop(
  count: number,
  concurrency: number,
  deadline: number,
  job: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() < deadline) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function registerFrame(id: string, i: number): Buffer {
  return encodeGrpcFrame(
    toBinary(
      RegisterNodeRequestSchema,
      create(RegisterNodeRequestSchema, {
        nodeId: id,
        hostname: `host-${i}`,
        ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        os: "linux",
        arch: "amd64",
        labels: { env: i % 3 === 0 ? "prod" : "lab", rack: `r${i % 40}` },
        daemonVersion: "0.1.0",
        agentVersion: "bench",
      }),
    ),
  );
}

function heartbeatFrame(id: string): Buffer {
  return encodeGrpcFrame(
    toBinary(
      HeartbeatRequestSchema,
      create(HeartbeatRequestSchema, {
        nodeId: id,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
      }),
    ),
  );
}

async function register(client: RawGrpcClient, cmd: Extract<GenCommand, { op: "register" }>) {
  const tally = new Tally();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await closedLoop(cmd.to - cmd.from, cmd.concurrency, t0 + cmd.maxSeconds * 1000, async (k) => {
    const i = cmd.from + k;
    const r = await client.call(PATH.register, registerFrame(benchNodeId(cmd.prefix, i), i));
    tally.record(r.status, r.message, r.latencyMs);
  });
  return tally.result(t0, cpu0);
}

async function ingest(client: RawGrpcClient, cmd: Extract<GenCommand, { op: "ingest" }>) {
  // Encode every request before the clock starts: the generator must not be the bottleneck.
  const frames: Buffer[] = [];
  for (let r = 0; r < cmd.requestsPerNode; r++) {
    for (let n = 0; n < cmd.nodes; n++) {
      const metrics = [];
      for (let j = 0; j < cmd.metricsPerRequest; j++) {
        const m = benchMetric(n, r, j, cmd.baseTs);
        metrics.push({
          type: m.type,
          timestamp: BigInt(m.ts),
          labels: m.labels,
          values: m.values,
        });
      }
      frames.push(
        encodeGrpcFrame(
          toBinary(
            ReportMetricsRequestSchema,
            create(ReportMetricsRequestSchema, { nodeId: benchNodeId(cmd.prefix, n), metrics }),
          ),
        ),
      );
    }
  }
  const tally = new Tally();
  let accepted = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await closedLoop(frames.length, cmd.concurrency, t0 + cmd.maxSeconds * 1000, async (i) => {
    const r = await client.call(PATH.report, frames[i] as Buffer);
    tally.record(r.status, r.message, r.latencyMs);
    if (r.status === 0) {
      const res = fromBinary(ReportMetricsResponseSchema, r.body);
      // Old-style managers leave accepted at 0 on full success.
      accepted += res.accepted || (res.rejected === 0 ? cmd.metricsPerRequest : 0);
    }
  });
  return tally.result(t0, cpu0, { acceptedRows: accepted });
}

async function heartbeats(client: RawGrpcClient, cmd: Extract<GenCommand, { op: "heartbeats" }>) {
  const frames = Array.from({ length: cmd.nodes }, (_, i) =>
    heartbeatFrame(benchNodeId(cmd.prefix, i)),
  );
  const tally = new Tally();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await closedLoop(Number.MAX_SAFE_INTEGER, cmd.concurrency, t0 + cmd.seconds * 1000, async (i) => {
    const r = await client.call(PATH.heartbeat, frames[i % frames.length] as Buffer);
    tally.record(r.status, r.message, r.latencyMs);
  });
  return tally.result(t0, cpu0);
}

const REPORT_TYPES: readonly [string, Record<string, string>][] = [
  ["cpu", {}],
  ["memory", {}],
  ["disk", { mount: "/" }],
  ["network", { interface: "eth0" }],
  ["daemon", {}],
];

function reportFrame(id: string, i: number, valuesPerReport: number): Buffer {
  const now = BigInt(Math.floor(Date.now() / 1000));
  const per = Math.ceil(valuesPerReport / REPORT_TYPES.length);
  const metrics = REPORT_TYPES.map(([type, labels], t) => {
    const values: Record<string, number> = {};
    for (let k = 0; k < per; k++) values[`v${k}`] = (i * 13 + t * 7 + k) % 1000;
    return { type, labels, timestamp: now, values };
  });
  return encodeGrpcFrame(
    toBinary(
      ReportMetricsRequestSchema,
      create(ReportMetricsRequestSchema, { nodeId: id, metrics }),
    ),
  );
}

/**
 * Open-loop fleet simulation: every node heartbeats every hbInterval (± jitter)
 * and reports every reportInterval from a random phase, for `seconds`.
 * Events live in a wheel of 10 ms buckets; calls beyond maxInflight count as errors.
 */
async function fleet(client: RawGrpcClient, cmd: Extract<GenCommand, { op: "fleet" }>) {
  const BUCKET_MS = 10;
  const durMs = cmd.seconds * 1000;
  const wheel = new Map<number, number[]>();
  const t0 = performance.now();
  const schedule = (at: number, ev: number) => {
    if (at - t0 >= durMs) return;
    const b = Math.floor((at - t0) / BUCKET_MS);
    let list = wheel.get(b);
    if (!list) {
      list = [];
      wheel.set(b, list);
    }
    list.push(ev);
  };
  const hbMs = cmd.hbIntervalS * 1000;
  const repMs = cmd.reportIntervalS * 1000;
  const jitter = () => 1 + (Math.random() * 2 - 1) * cmd.jitter;
  // ev >= 0: heartbeat of node ev; ev < 0: report of node -ev-1.
  for (let i = 0; i < cmd.nodes; i++) {
    schedule(t0 + Math.random() * hbMs, i);
    schedule(t0 + Math.random() * repMs, -i - 1);
  }
  const tally = new Tally();
  const hbLat = new Samples();
  const repLat = new Samples();
  let inflight = 0;
  let hbSent = 0;
  let reportsSent = 0;
  let overrun = 0;
  let maxLagMs = 0;
  const pending = new Set<Promise<void>>();
  const fire = (ev: number) => {
    if (inflight >= cmd.maxInflight) {
      overrun++;
      return;
    }
    const node = ev >= 0 ? ev : -ev - 1;
    const id = benchNodeId(cmd.prefix, node);
    const isHb = ev >= 0;
    const frame = isHb ? heartbeatFrame(id) : reportFrame(id, node, cmd.valuesPerReport);
    if (isHb) hbSent++;
    else reportsSent++;
    inflight++;
    const p: Promise<void> = client
      .call(isHb ? PATH.heartbeat : PATH.report, frame, 10_000)
      .then((r) => {
        inflight--;
        tally.record(r.status, r.message, r.latencyMs);
        (isHb ? hbLat : repLat).push(r.latencyMs);
        pending.delete(p);
      });
    pending.add(p);
  };
  const cpu0 = process.cpuUsage();
  let done = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const upTo = Math.floor((now - t0) / BUCKET_MS);
      for (; done <= upTo; done++) {
        const list = wheel.get(done);
        if (!list) continue;
        wheel.delete(done);
        maxLagMs = Math.max(maxLagMs, now - (t0 + done * BUCKET_MS));
        for (const ev of list) {
          fire(ev);
          const due = t0 + done * BUCKET_MS;
          schedule(due + (ev >= 0 ? hbMs : repMs) * jitter(), ev);
        }
      }
      if (now - t0 >= durMs) resolve();
      else setTimeout(tick, BUCKET_MS / 2);
    };
    tick();
  });
  // Let the last calls finish, bounded.
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 12_000))]);
  const stuck = pending.size;
  if (stuck) tally.errors.unfinished = stuck;
  if (overrun) tally.errors.generator_overrun = overrun;
  return tally.result(t0, cpu0, {
    heartbeats: hbSent,
    reports: reportsSent,
    rpcPerSecond: (hbSent + reportsSent) / cmd.seconds,
    schedulerMaxLagMs: maxLagMs,
    heartbeatP99Ms: quantile(hbLat.values(), 0.99),
    reportP99Ms: quantile(repLat.values(), 0.99),
  });
}

const clients = new Map<string, RawGrpcClient>();
process.on("message", (raw) => {
  const cmd = raw as GenCommand;
  const run = async (): Promise<GenResult> => {
    if (cmd.op === "exit") {
      for (const c of clients.values()) c.close();
      process.disconnect();
      return Promise.reject(new Error("exiting"));
    }
    assertLoopback(cmd.url);
    const key = `${cmd.url} ${cmd.sessions ?? 4}`;
    let client = clients.get(key);
    if (!client) {
      client = createRawGrpcClient(cmd.url, cmd.sessions ?? 4);
      clients.set(key, client);
    }
    switch (cmd.op) {
      case "register":
        return register(client, cmd);
      case "ingest":
        return ingest(client, cmd);
      case "heartbeats":
        return heartbeats(client, cmd);
      case "fleet":
        return fleet(client, cmd);
    }
  };
  run().then(
    (res) => process.send?.({ ok: true, res }),
    (err: unknown) => {
      if (cmd.op !== "exit")
        process.send?.({ ok: false, error: String((err as Error)?.stack ?? err) });
    },
  );
});
process.send?.({ ready: true });
