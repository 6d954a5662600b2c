/**
 * Simulated nodes, run as a child process (sim-nodes-client.ts): each node
 * registers, heartbeats at the interval the manager asks for and, if asked,
 * reports one sample per interval, over raw node:http2 gRPC. A shed answer's
 * `grpc-retry-pushback-ms` is honoured and counted; answers that shed without
 * one are counted too. Only talks to loopback.
 */
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  HeartbeatRequestSchema,
  HeartbeatResponseSchema,
  RegisterNodeRequestSchema,
  RegisterNodeResponseSchema,
  ReportMetricsRequestSchema,
} from "../../gen/manager/manager_pb.js";
import { encodeGrpcFrame, firstGrpcMessage } from "../../src/common/grpc-frame.js";

export type SimCommand =
  | { op: "start"; url: string; prefix: string; count: number; reportMs: number; sessions: number }
  | { op: "mark" }
  | { op: "stats" }
  | { op: "stop" };

export interface SimStats {
  nodes: number;
  registered: number;
  /** Nodes with an OK heartbeat since the last mark. */
  okSinceMark: number;
  /** ms from the mark until 99 % of nodes had an OK heartbeat; -1 if not yet. */
  t99Ms: number;
  heartbeatsOk: number;
  reportsOk: number;
  /** RESOURCE_EXHAUSTED / UNAVAILABLE answers from a manager, and those without pushback. */
  shed: number;
  shedWithoutPushback: number;
  firstShedWithoutPushback: string;
  /** Calls with no gRPC status (connection refused or reset during a restart). */
  transport: number;
  codes: Record<string, number>;
}

const frame = (b: Uint8Array) => encodeGrpcFrame(b);

interface Answer {
  status: number;
  message: string;
  pushbackMs: number | undefined;
  body: Buffer;
}

function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== "127.0.0.1" && host !== "localhost")
    throw new Error(`sim nodes only target loopback, got ${host}`);
}

function createPool(url: string, size: number) {
  const pool: (http2.ClientHttp2Session | undefined)[] = new Array(size).fill(undefined);
  let next = 0;
  const session = () => {
    const i = next++ % size;
    let s = pool[i];
    if (!s || s.closed || s.destroyed) {
      s = http2.connect(url);
      s.on("error", () => {});
      s.on("goaway", () => s?.close());
      pool[i] = s;
    }
    return s;
  };
  const call = (path: string, body: Buffer, timeoutMs = 5_000): Promise<Answer> =>
    new Promise((resolve) => {
      let status = -1;
      let message = "";
      let pushbackMs: number | undefined;
      const chunks: Buffer[] = [];
      const read = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          status = Number(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
        if (h["grpc-retry-pushback-ms"] !== undefined)
          pushbackMs = Number(h["grpc-retry-pushback-ms"]);
      };
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session().request({
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc",
          te: "trailers",
          "grpc-timeout": `${timeoutMs}m`,
        });
      } catch (err) {
        resolve({ status: -1, message: String(err), pushbackMs, body: Buffer.alloc(0) });
        return;
      }
      stream.setTimeout(timeoutMs + 1000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on("response", read);
      stream.on("trailers", read);
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", (err) => {
        if (status === -1) message = err.message;
      });
      stream.on("close", () => {
        const all = Buffer.concat(chunks);
        resolve({ status, message, pushbackMs, body: firstGrpcMessage(all) });
      });
      stream.end(body);
    });
  const close = () => {
    for (const s of pool) s?.close();
  };
  return { call, close };
}

const PATH = {
  register: "/manager.ManagerService/RegisterNode",
  heartbeat: "/manager.ManagerService/Heartbeat",
  report: "/manager.ManagerService/ReportMetrics",
};

let stopped = false;
let mark = performance.now();
const stats = {
  nodes: 0,
  registered: 0,
  heartbeatsOk: 0,
  reportsOk: 0,
  shed: 0,
  shedWithoutPushback: 0,
  firstShedWithoutPushback: "",
  transport: 0,
  codes: {} as Record<string, number>,
};
let okAfterMark: number[] = [];
let okSeen = new Set<number>();
const running: Promise<void>[] = [];
let pool: ReturnType<typeof createPool> | undefined;

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The wait after a failed call: the server's pushback, else about a second. */
function note(a: Answer, what: string): number {
  if (a.status === -1) {
    stats.transport++;
    return 500 + Math.random() * 1000;
  }
  stats.codes[`${what}_${a.status}`] = (stats.codes[`${what}_${a.status}`] ?? 0) + 1;
  if (a.status === 8 || a.status === 14) {
    stats.shed++;
    if (a.pushbackMs === undefined) {
      stats.shedWithoutPushback++;
      stats.firstShedWithoutPushback ||= `${what} code ${a.status}: ${a.message}`;
    }
  }
  return a.pushbackMs ?? 1000;
}

async function runNode(i: number, cmd: Extract<SimCommand, { op: "start" }>) {
  const p = pool as ReturnType<typeof createPool>;
  const nodeId = `${cmd.prefix}-${i}`;
  const reg = frame(
    toBinary(
      RegisterNodeRequestSchema,
      create(RegisterNodeRequestSchema, {
        nodeId,
        hostname: nodeId,
        ip: `10.9.${(i >> 8) & 255}.${i & 255}`,
        os: "linux",
        arch: "amd64",
        labels: { sim: "faults" },
        daemonVersion: "0.0.0-sim",
      }),
    ),
  );
  let registered = false;
  let retrying = false;
  let intervalMs = 1000;
  let nextReport = performance.now() + Math.random() * (cmd.reportMs || 1);
  // Spread the first registrations over two seconds, as a fleet started by hand would be.
  await pause(Math.random() * 2000);
  while (!stopped) {
    if (!registered) {
      const a = await p.call(PATH.register, reg);
      if (a.status === 0) {
        registered = true;
        stats.registered++;
        intervalMs =
          (fromBinary(RegisterNodeResponseSchema, a.body).heartbeatIntervalSeconds || 1) * 1000;
      } else await pause(note(a, "register"));
      continue;
    }
    // After a failed heartbeat the wait was the pushback (or a second): try again at once.
    if (!retrying) await pause(intervalMs * (0.9 + 0.2 * Math.random()));
    retrying = false;
    if (stopped) break;
    const hb = frame(
      toBinary(
        HeartbeatRequestSchema,
        create(HeartbeatRequestSchema, {
          nodeId,
          timestamp: BigInt(Math.floor(Date.now() / 1000)),
        }),
      ),
    );
    const a = await p.call(PATH.heartbeat, hb);
    if (a.status === 0) {
      stats.heartbeatsOk++;
      if (!okSeen.has(i)) {
        okSeen.add(i);
        okAfterMark.push(performance.now() - mark);
      }
      intervalMs =
        (fromBinary(HeartbeatResponseSchema, a.body).heartbeatIntervalSeconds || 1) * 1000;
    } else if (a.status === 5) {
      registered = false;
      stats.registered--;
    } else {
      await pause(note(a, "heartbeat"));
      retrying = true;
    }
    if (cmd.reportMs > 0 && performance.now() >= nextReport && !stopped) {
      nextReport += cmd.reportMs;
      const body = frame(
        toBinary(
          ReportMetricsRequestSchema,
          create(ReportMetricsRequestSchema, {
            nodeId,
            metrics: [
              {
                type: "sim",
                timestamp: BigInt(Math.floor(Date.now() / 1000)),
                values: { v: i, load: Math.random() },
              },
            ],
          }),
        ),
      );
      const r = await p.call(PATH.report, body);
      if (r.status === 0) stats.reportsOk++;
      else note(r, "report");
    }
  }
}

function snapshot(): SimStats {
  const sorted = [...okAfterMark].sort((a, b) => a - b);
  const need = Math.ceil(stats.nodes * 0.99);
  return {
    ...stats,
    codes: { ...stats.codes },
    okSinceMark: okSeen.size,
    t99Ms: sorted.length >= need && need > 0 ? Math.round(sorted[need - 1] as number) : -1,
  };
}

process.on("message", (raw) => {
  const cmd = raw as SimCommand;
  const reply = (m: unknown) => process.send?.(m);
  switch (cmd.op) {
    case "start":
      assertLoopback(cmd.url);
      pool = createPool(cmd.url, cmd.sessions);
      stats.nodes = cmd.count;
      for (let i = 0; i < cmd.count; i++) running.push(runNode(i, cmd));
      reply({ ok: true });
      break;
    case "mark":
      mark = performance.now();
      okAfterMark = [];
      okSeen = new Set();
      reply({ ok: true });
      break;
    case "stats":
      reply({ ok: true, stats: snapshot() });
      break;
    case "stop":
      stopped = true;
      // Bounded: a call in flight ends within its 5 s deadline.
      void Promise.race([Promise.all(running), pause(8_000)]).then(() => {
        pool?.close();
        reply({ ok: true, stats: snapshot() });
        process.disconnect();
      });
      break;
  }
});
process.send?.({ ready: true });
// The suite went away (interrupted, crashed): so do the simulated nodes.
process.on("disconnect", () => process.exit(0));
