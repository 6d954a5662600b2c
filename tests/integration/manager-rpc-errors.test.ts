import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegisterNodeRequestSchema } from "../../gen/manager/manager_pb.js";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import type { Manager } from "../../src/manager/server.js";
import { GRPC_PATHS, startTestManager, uniqueNodeId } from "../helpers/manager.js";

interface MetricInit {
  type: string;
  timestamp: bigint;
  values: Record<string, number>;
  labels?: Record<string, string>;
}

/** The ConnectError of a call that must fail. */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

describe.each(GRPC_PATHS)(
  "ManagerService status codes and messages ($path)",
  ({ grpcFastPath }) => {
    let manager: Manager;
    let client: ManagerClient;
    let nodeId: string;
    const now = () => Math.floor(Date.now() / 1000);
    const reg = (over: Partial<MessageInitShape<typeof RegisterNodeRequestSchema>> = {}) => ({
      nodeId: uniqueNodeId("err"),
      hostname: "h",
      ip: "10.1.2.3",
      os: "linux",
      arch: "x64",
      labels: { env: "test" },
      daemonVersion: "1",
      agentVersion: "",
      ...over,
    });
    const cpu = (over: Partial<MetricInit> = {}): MetricInit => ({
      type: "cpu",
      timestamp: BigInt(now()),
      values: { usage_percent: 1 },
      ...over,
    });

    beforeAll(async () => {
      manager = await startTestManager({ grpcFastPath });
      client = createManagerClient({ address: manager.grpcUrl, timeoutMs: 20_000, retry: false });
      nodeId = uniqueNodeId("err");
      await client.registerNode(reg({ nodeId }));
    });
    afterAll(async () => {
      await manager?.stop();
    });

    it.each([
      [{ nodeId: "" }, "node_id: must be 1–128 characters, got 0"],
      [{ nodeId: "x".repeat(129) }, "node_id: must be 1–128 characters, got 129"],
      [{ nodeId: "a b" }, 'node_id: must contain only [A-Za-z0-9._:-], got " " in "a b"'],
      [{ hostname: "h".repeat(256) }, "hostname: must be at most 255 characters, got 256"],
      [{ ip: "999.1.1.1" }, 'ip: must be an IPv4 or IPv6 address or empty, got "999.1.1.1"'],
      [
        { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) },
        "labels: must have at most 64 pairs, got 65",
      ],
      [{ labels: { ["k".repeat(64)]: "v" } }, "must be 1–63 characters, got 64"],
      [
        { labels: { "role.name": "v" } },
        'labels: key "role.name" must match [A-Za-z_][A-Za-z0-9_]*',
      ],
      [
        { labels: { env: "v".repeat(256) } },
        'labels["env"]: value must be at most 255 characters, got 256',
      ],
      [{ os: "o".repeat(256) }, "os: must be at most 255 characters, got 256"],
    ] as [Partial<MessageInitShape<typeof RegisterNodeRequestSchema>>, string][])(
      "RegisterNode %j → INVALID_ARGUMENT",
      async (over, message) => {
        const err = await failure(client.registerNode(reg(over)));
        expect(err.code).toBe(Code.InvalidArgument);
        expect(err.rawMessage).toContain(message);
      },
    );

    it("Heartbeat: bad node_id → INVALID_ARGUMENT, unknown node → NOT_FOUND", async () => {
      let err = await failure(client.heartbeat({ nodeId: "no/slash", timestamp: BigInt(now()) }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe(
        'node_id: must contain only [A-Za-z0-9._:-], got "/" in "no/slash"',
      );
      err = await failure(client.heartbeat({ nodeId: nodeId, timestamp: -1n }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("timestamp: must be Unix seconds ≥ 0, got -1");
      const ghost = uniqueNodeId("ghost");
      err = await failure(client.heartbeat({ nodeId: ghost, timestamp: BigInt(now()) }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe(`node_id: node "${ghost}" is not registered`);
    });

    it("ReportMetrics envelope: bad node_id, too many entries → INVALID_ARGUMENT; unknown node → NOT_FOUND", async () => {
      let err = await failure(client.reportMetrics({ nodeId: "", metrics: [cpu()] }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("node_id: must be 1–128 characters, got 0");
      const many = Array.from({ length: 5001 }, (_, i) => cpu({ timestamp: BigInt(now() - i) }));
      err = await failure(client.reportMetrics({ nodeId, metrics: many }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("metrics: must hold at most 5000 entries, got 5001");
      const ghost = uniqueNodeId("ghost");
      err = await failure(client.reportMetrics({ nodeId: ghost, metrics: [cpu()] }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe(`node_id: node "${ghost}" is not registered`);
    });

    it("ReportMetrics: 5000 entries pass; bad entries are rejected and counted, the rest stored", async () => {
      const t = now();
      const ok = Array.from({ length: 5000 }, (_, i) => cpu({ timestamp: BigInt(t - 1000 - i) }));
      const full = await client.reportMetrics({ nodeId, metrics: ok });
      expect(full).toMatchObject({ success: true, accepted: 5000, rejected: 0 });

      const mixed: MetricInit[] = [
        cpu({ type: "mem", timestamp: BigInt(t) }),
        cpu({ type: "Bad-Type", timestamp: BigInt(t) }),
        cpu({ type: "nan", values: { a: Number.NaN } }),
        cpu({ type: "old", timestamp: BigInt(t - 31 * 86_400) }),
        cpu({ type: "future", timestamp: BigInt(t + 3600) }),
        cpu({
          type: "wide",
          values: Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`v${i}`, i])),
        }),
        cpu({ type: "x".repeat(64) }),
        cpu({ type: "lbl", labels: { "bad key": "1" } }),
        cpu({ type: "disk", timestamp: BigInt(t), labels: { mount: "/" } }),
      ];
      const res = await client.reportMetrics({ nodeId, metrics: mixed });
      expect(res).toMatchObject({ success: true, accepted: 2, rejected: 7 });
      expect(res.message).toBe(
        `rejected 7 of 9 metrics: metrics[1].type: must match [a-z][a-z0-9_]*, got "Bad-Type"; ` +
          `metrics[2].values["a"]: must be finite, got NaN; ` +
          `metrics[3].timestamp: must be within the retention window (≥ ${res.message.match(/≥ (\d+)/)?.[1]}, 2592000s ago), got ${t - 31 * 86_400}; …`,
      );
      const rows = await manager.database.db
        .select({ type: metrics.type })
        .from(metrics)
        .where(sql`${metrics.nodeId} = ${nodeId} and ${metrics.ts} = to_timestamp(${t})`);
      expect(rows.map((r) => r.type).sort()).toEqual(["disk", "mem"]);
    });

    it("each remaining per-entry limit names field, problem and limit", async () => {
      const t = now();
      const cases: [MetricInit, string][] = [
        [
          cpu({ type: "future", timestamp: BigInt(t + 3600) }),
          "metrics[0].timestamp: must be at most 300s in the future",
        ],
        [
          cpu({ values: Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`v${i}`, i])) }),
          "metrics[0].values: must hold at most 512 values, got 513",
        ],
        [cpu({ type: "x".repeat(64) }), "metrics[0].type: must be 1–63 characters, got 64"],
        [
          cpu({ values: { a: Number.POSITIVE_INFINITY } }),
          'metrics[0].values["a"]: must be finite, got Infinity',
        ],
        [
          cpu({ labels: { mount: "m".repeat(256) } }),
          'metrics[0].labels["mount"]: value must be at most 255 characters, got 256',
        ],
      ];
      for (const [entry, message] of cases) {
        const res = await client.reportMetrics({ nodeId, metrics: [entry] });
        expect(res).toMatchObject({ success: true, accepted: 0, rejected: 1 });
        expect(res.message).toContain(message);
      }
    });

    it("a request over 4 MiB → RESOURCE_EXHAUSTED naming the limit", async () => {
      const err = await failure(
        client.registerNode(reg({ hostname: "h".repeat(4 * 1024 * 1024 + 10) })),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toMatch(/larger than configured readMaxBytes 4194304/);
    });

    it("a failing commit → UNAVAILABLE for the requests in that batch only; the next batch succeeds", async () => {
      const db = manager.database.db;
      const t = now() - 5000;
      await db.execute(sql`alter table metrics rename to metrics_away`);
      let errs: ConnectError[];
      try {
        errs = await Promise.all(
          [0, 1, 2].map((i) =>
            failure(
              client.reportMetrics({
                nodeId,
                metrics: [cpu({ type: "failtest", timestamp: BigInt(t + i) })],
              }),
            ),
          ),
        );
      } finally {
        await db.execute(sql`alter table metrics_away rename to metrics`);
      }
      for (const err of errs) {
        expect(err.code).toBe(Code.Unavailable);
        expect(err.rawMessage).toMatch(
          /^metrics: could not store \d+ rows \(batch of \d+ requests\): /,
        );
      }
      const res = await client.reportMetrics({
        nodeId,
        metrics: [cpu({ type: "failtest", timestamp: BigInt(t) })],
      });
      expect(res).toMatchObject({ success: true, accepted: 1 });
      const stored = await db
        .select()
        .from(metrics)
        .where(sql`${metrics.nodeId} = ${nodeId} and ${metrics.type} = 'failtest'`);
      expect(stored).toHaveLength(1);
    });

    it("while shutting down, ingest answers UNAVAILABLE", async () => {
      const m2 = await startTestManager({ grpcFastPath });
      const c2 = createManagerClient({ address: m2.grpcUrl, timeoutMs: 10_000, retry: false });
      const id = uniqueNodeId("drain");
      await c2.registerNode(reg({ nodeId: id }));
      await m2.runtime.ingest.drain();
      const err = await failure(c2.reportMetrics({ nodeId: id, metrics: [cpu()] }));
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toBe("manager is shutting down");
      await m2.stop();
      expect(
        await manager.database.db.select().from(metrics).where(eq(metrics.nodeId, id)),
      ).toHaveLength(0);
    });
  },
);
