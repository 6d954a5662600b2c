import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { and, count, eq, like, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import type { Manager } from "../../src/manager/server.js";
import { GRPC_PATHS, startTestManager, uniqueNodeId } from "../helpers/manager.js";
import { rowCount } from "../helpers/rows.js";
import { errorOf } from "../helpers/rpc.js";

const now = () => Math.floor(Date.now() / 1000);

interface MetricInit {
  type: string;
  timestamp: bigint;
  values: Record<string, number>;
  labels?: Record<string, string>;
}

/** A daemon-like batch: cpu plus two disks per timestamp. */
function batchFor(
  nodeId: string,
  t0: number,
  rounds: number,
): { nodeId: string; metrics: MetricInit[] } {
  return {
    nodeId,
    metrics: Array.from({ length: rounds }, (_, i): MetricInit[] => [
      { type: "cpu", timestamp: BigInt(t0 - i), values: { usage_percent: i } },
      { type: "disk", timestamp: BigInt(t0 - i), values: { used: i }, labels: { mount: "/" } },
      { type: "disk", timestamp: BigInt(t0 - i), values: { used: i }, labels: { mount: "/var" } },
    ]).flat(),
  };
}

describe.each(GRPC_PATHS)("idempotent group-commit ingest ($path)", ({ grpcFastPath }) => {
  let manager: Manager;
  let client: ManagerClient;

  beforeAll(async () => {
    // A wider batch window so concurrent requests surely share statements.
    manager = await startTestManager({
      grpcFastPath,
      ingest: {
        batchWindowMs: 20,
        maxBatchRows: 20_000,
        maxConcurrentBatches: 2,
        maxPendingRows: 500_000,
      },
    });
    client = createManagerClient({ address: manager.grpcUrl, timeoutMs: 60_000, retry: false });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("the same batch sent twice leaves the row count unchanged", async () => {
    const nodeId = uniqueNodeId("dup");
    await client.registerNode({ nodeId, hostname: "h" });
    const batch = batchFor(nodeId, now(), 20);
    expect(await client.reportMetrics(batch)).toMatchObject({ success: true, accepted: 60 });
    expect(await rowCount(manager, [nodeId])).toBe(60);
    expect(await client.reportMetrics(batch)).toMatchObject({ success: true, accepted: 60 });
    expect(await rowCount(manager, [nodeId])).toBe(60);
    // Label order does not make a new series.
    const reordered: { nodeId: string; metrics: MetricInit[] } = {
      nodeId,
      metrics: [
        {
          type: "disk",
          timestamp: BigInt(now() - 1),
          values: { used: 1 },
          labels: { b: "2", a: "1" },
        },
      ],
    };
    await client.reportMetrics(reordered);
    await client.reportMetrics({
      nodeId,
      metrics: [{ ...(reordered.metrics[0] as MetricInit), labels: { a: "1", b: "2" } }],
    });
    expect(await rowCount(manager, [nodeId])).toBe(61);
  });

  it("200 nodes reporting concurrently (twice each) end with every row exactly once", async () => {
    const prefix = uniqueNodeId("fleet200");
    const ids = Array.from({ length: 200 }, (_, i) => `${prefix}-${i}`);
    await Promise.all(ids.map((nodeId) => client.registerNode({ nodeId, hostname: nodeId })));
    const t0 = now();
    const before = await manager.runtime.telemetry.ingestBatchRequests.get();
    const results = await Promise.all(
      [...ids, ...ids].map((nodeId) => client.reportMetrics(batchFor(nodeId, t0, 10))),
    );
    for (const r of results) expect(r).toMatchObject({ success: true, accepted: 30, rejected: 0 });
    expect(await rowCount(manager, ids)).toBe(200 * 30);
    const perSeries = await manager.database.db.execute(sql`
      select count(*)::int as n from (
        select node_id, type, labels, ts, count(*) c from metrics
         where node_id like ${`${prefix}-%`} group by 1, 2, 3, 4 having count(*) > 1) d`);
    const dupRows = (
      Array.isArray(perSeries) ? perSeries : (perSeries as { rows: unknown[] }).rows
    ) as {
      n: number;
    }[];
    expect(Number(dupRows[0]?.n)).toBe(0);
    // Group commit: 400 requests went out in far fewer statements.
    const after = await manager.runtime.telemetry.ingestBatchRequests.get();
    const sum = (m: typeof after, name: string) =>
      m.values.filter((v) => v.metricName === name).reduce((a, v) => a + v.value, 0);
    const statements =
      sum(after, "fleet_ingest_batch_requests_count") -
      sum(before, "fleet_ingest_batch_requests_count");
    const requests =
      sum(after, "fleet_ingest_batch_requests_sum") -
      sum(before, "fleet_ingest_batch_requests_sum");
    expect(requests).toBe(400);
    expect(statements).toBeLessThan(100);
    const stored = await manager.database.db
      .select({ n: count() })
      .from(metrics)
      .where(and(like(metrics.nodeId, `${prefix}-%`), eq(metrics.type, "cpu")));
    expect(stored[0]?.n).toBe(200 * 10);
  });

  it("a node deleted behind the known-node cache: no orphan rows, NOT_FOUND at once", async () => {
    const nodeId = uniqueNodeId("gone");
    const other = uniqueNodeId("stays");
    await client.registerNode({ nodeId });
    await client.registerNode({ nodeId: other });
    await client.reportMetrics(batchFor(nodeId, now(), 1));
    expect(await rowCount(manager, [nodeId])).toBe(3);
    // Deleted elsewhere (another replica, or by hand): this manager's cache still knows it.
    await manager.database.db.delete(metrics).where(eq(metrics.nodeId, nodeId));
    await manager.database.db.execute(sql`delete from nodes where node_id = ${nodeId}`);
    // Its report is refused (the daemon keeps the batch, registers again, resends),
    // while a report committed in the same group still succeeds.
    const [gone, kept] = await Promise.all([
      errorOf(client.reportMetrics(batchFor(nodeId, now() - 10, 1))),
      client.reportMetrics(batchFor(other, now() - 10, 1)),
    ]);
    expect(gone?.code).toBe(Code.NotFound);
    expect(gone?.rawMessage).toBe(`node_id: node "${nodeId}" is not registered`);
    expect(kept.accepted).toBe(3);
    expect(await rowCount(manager, [nodeId])).toBe(0);
    expect(await rowCount(manager, [other])).toBe(3);
    // The refused report made this manager forget the node: heartbeats say so too.
    const err = await errorOf(client.heartbeat({ nodeId, timestamp: 0n }));
    expect(err?.code).toBe(Code.NotFound);
  });

  it("DeleteNode makes this replica forget the node at once", async () => {
    const nodeId = uniqueNodeId("deleted");
    await client.registerNode({ nodeId });
    await createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl })).deleteNode({
      nodeId,
    });
    const err = await errorOf(client.reportMetrics(batchFor(nodeId, now(), 1)));
    expect(err?.code).toBe(Code.NotFound);
  });

  it("overload: more queued rows than max_pending_rows → UNAVAILABLE, nothing half-stored", async () => {
    const small = await startTestManager({
      grpcFastPath,
      ingest: {
        batchWindowMs: 1000,
        maxBatchRows: 20_000,
        maxConcurrentBatches: 1,
        maxPendingRows: 100,
      },
    });
    try {
      const c = createManagerClient({ address: small.grpcUrl, timeoutMs: 20_000, retry: false });
      const nodeId = uniqueNodeId("overload");
      await c.registerNode({ nodeId });
      const first = c.reportMetrics(batchFor(nodeId, now(), 30)); // 90 rows wait in the window
      const err = await errorOf(c.reportMetrics(batchFor(nodeId, now() - 100, 10)));
      expect(err?.code).toBe(Code.Unavailable);
      expect(err?.rawMessage).toBe(
        "metrics: 90 rows already waiting to be stored (limit 100); retry later",
      );
      expect(await first).toMatchObject({ accepted: 90 });
      expect(await rowCount(small, nodeId)).toBe(90);
    } finally {
      await small.stop();
    }
  });
});
