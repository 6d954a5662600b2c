import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { createLogger } from "../../src/common/logging.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import { createManager, type Manager } from "../../src/manager/server.js";
import {
  createGrpcJsManagerClient,
  type GrpcJsManagerClient,
  grpcJsCall,
} from "../helpers/grpc-clients.js";
import { testManagerConfig, uniqueNodeId } from "../helpers/manager.js";

/**
 * The real manager with ManagerService on the fast path: the daemon's
 * client (connect-node) and @grpc/grpc-js with the original proto see the
 * same answers as on connect-node, and FleetService still works on the port.
 */
describe("manager with fastPath", () => {
  let manager: Manager;
  let grpcJs: GrpcJsManagerClient;
  const readMax = 64 * 1024;

  beforeAll(async () => {
    const base = testManagerConfig();
    manager = createManager(
      { ...base, limits: { ...base.limits, requestMaxBytes: readMax } },
      { logger: createLogger("fast-path-test", "silent"), fastPath: true },
    );
    await manager.start();
    grpcJs = createGrpcJsManagerClient(manager.grpcUrl);
  });
  afterAll(async () => {
    grpcJs?.close();
    await manager?.stop();
  });

  const client = () =>
    createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));

  it("registers, heartbeats and stores metrics through connect-node", async () => {
    const nodeId = uniqueNodeId("fast");
    const now = BigInt(Math.floor(Date.now() / 1000));
    const c = client();
    expect(
      (await c.registerNode({ nodeId, hostname: "h", os: "linux", arch: "amd64" })).success,
    ).toBe(true);
    const hb = await c.heartbeat({ nodeId, timestamp: now });
    expect(hb.success).toBe(true);
    expect(hb.heartbeatIntervalSeconds).toBeGreaterThan(0);
    const rep = await c.reportMetrics({
      nodeId,
      metrics: [{ type: "cpu", timestamp: now, values: { usage_percent: 12.5 } }],
    });
    expect(rep.success).toBe(true);
    expect(rep.accepted).toBe(1);
    const rows = await manager.database.db.select().from(metrics).where(eq(metrics.nodeId, nodeId));
    expect(rows).toHaveLength(1);
  });

  it("answers @grpc/grpc-js with the original proto, including NOT_FOUND and INVALID_ARGUMENT", async () => {
    const nodeId = uniqueNodeId("fast-go");
    const reg = await grpcJsCall<{ success: boolean }>(grpcJs, "RegisterNode", {
      node_id: nodeId,
      hostname: "legacy",
      os: "linux",
      arch: "amd64",
    });
    expect(reg.res?.success).toBe(true);
    const hb = await grpcJsCall<{ success: boolean }>(grpcJs, "Heartbeat", {
      node_id: nodeId,
      timestamp: String(Math.floor(Date.now() / 1000)),
    });
    expect(hb.res?.success).toBe(true);

    const ghost = await grpcJsCall(grpcJs, "Heartbeat", {
      node_id: uniqueNodeId("ghost"),
      timestamp: "0",
    });
    expect(ghost.err?.code).toBe(grpc.status.NOT_FOUND);
    const empty = await grpcJsCall(grpcJs, "Heartbeat", { node_id: "", timestamp: "0" });
    expect(empty.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.err?.details).toContain("node_id");
  });

  it("maps the same errors for connect-node, and refuses oversized requests", async () => {
    const err = await client()
      .heartbeat({ nodeId: uniqueNodeId("ghost") })
      .catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.NotFound);

    const big = await client()
      .reportMetrics({
        nodeId: uniqueNodeId("big"),
        metrics: [
          { type: "cpu", timestamp: 1n, values: { a: 1 }, labels: { pad: "x".repeat(readMax) } },
        ],
      })
      .catch((e: unknown) => ConnectError.from(e));
    expect((big as ConnectError).code).toBe(Code.ResourceExhausted);
    const viaJs = await grpcJsCall(grpcJs, "ReportMetrics", {
      node_id: "x".repeat(readMax),
      metrics: [],
    });
    expect(viaJs.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it("still serves FleetService (connect-node path) on the gRPC port", async () => {
    const fleet = createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    const page = await fleet.listNodes({ pageSize: 5 });
    expect(Number(page.total)).toBeGreaterThan(0);
  });
});
