import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import type { ReportMetricsRequestSchema } from "../../gen/manager/manager_pb.js";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import { nodeEvents, nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";

// The smallest whole path: the daemon's own client (transport/client.ts) calls
// ManagerService on the gRPC port, and the rows are read back from the database.
describe("ManagerService round trip: the daemon's client registers, heartbeats and reports; the rows are in the database", () => {
  let manager: Manager;
  let client: ManagerClient;

  beforeAll(async () => {
    manager = await startTestManager();
    client = createManagerClient({ address: manager.grpcUrl, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("registers, heartbeats, reports a batch and reads the rows back", async () => {
    const nodeId = uniqueNodeId();
    const reg = await client.registerNode({
      nodeId,
      hostname: "web-1",
      ip: "10.0.0.5",
      os: "linux",
      arch: "x64",
      labels: { env: "prod" },
      daemonVersion: "1.2.3",
      agentVersion: "a",
    });
    expect(reg.success).toBe(true);
    expect(reg.heartbeatIntervalSeconds).toBeGreaterThan(0);

    const now = Math.floor(Date.now() / 1000);
    const hb = await client.heartbeat({ nodeId, timestamp: BigInt(now) });
    expect(hb.success).toBe(true);

    const batch: MessageInitShape<typeof ReportMetricsRequestSchema> = {
      nodeId,
      metrics: [
        { type: "cpu", timestamp: BigInt(now), values: { usage_percent: 12.5, load1: 0.4 } },
        {
          type: "disk",
          timestamp: BigInt(now),
          values: { used_bytes: 1e9 },
          labels: { mount: "/var" },
        },
        {
          type: "disk",
          timestamp: BigInt(now),
          values: { used_bytes: 2e9 },
          labels: { mount: "/" },
        },
      ],
    };
    const rep = await client.reportMetrics(batch);
    expect(rep).toMatchObject({ success: true, accepted: 3, rejected: 0 });

    const db = manager.database.db;
    const [node] = await db.select().from(nodes).where(eq(nodes.nodeId, nodeId));
    expect(node).toMatchObject({
      hostname: "web-1",
      ip: "10.0.0.5",
      labels: { env: "prod" },
      status: "online",
    });
    expect(node?.lastSeenAt).toBeInstanceOf(Date);

    const rows = await db.select().from(metrics).where(eq(metrics.nodeId, nodeId));
    expect(rows).toHaveLength(3);
    const varDisk = rows.find((r) => r.type === "disk" && r.labels.mount === "/var");
    expect(varDisk?.values).toEqual({ used_bytes: 1e9 });
    expect(varDisk?.ts.getTime()).toBe(now * 1000);

    // A retried batch stores nothing new.
    await client.reportMetrics(batch);
    const again = await db.select().from(metrics).where(eq(metrics.nodeId, nodeId));
    expect(again).toHaveLength(3);

    const events = await db
      .select()
      .from(nodeEvents)
      .where(and(eq(nodeEvents.nodeId, nodeId), eq(nodeEvents.kind, "registered")));
    expect(events).toHaveLength(1);
  });

  it("answers NOT_FOUND for a heartbeat from an unknown node", async () => {
    const err = await client
      .heartbeat({ nodeId: uniqueNodeId("ghost"), timestamp: 0n })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toMatch(/node_id: node "ghost-.*" is not registered/);
  });

  it("serves FleetService GetNode on the gRPC port for a node the daemon client registered", async () => {
    const nodeId = uniqueNodeId();
    await client.registerNode({ nodeId, hostname: "db-1" });
    const fleet = createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    const res = await fleet.getNode({ nodeId });
    expect(res.node).toMatchObject({ nodeId, hostname: "db-1", status: "online" });
  });
});
