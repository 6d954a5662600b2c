import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/common/package-root.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import type { Manager } from "../../src/manager/server.js";
import { GRPC_PATHS, startTestManager, uniqueNodeId } from "../helpers/manager.js";

/**
 * Wire compatibility with daemons of the existing system: a gRPC stack we did
 * not write (@grpc/grpc-js) loads the frozen original definition
 * (proto-fixtures/) and talks to our server.
 */
describe.each(GRPC_PATHS)(
  "interoperability with @grpc/grpc-js and the original manager.proto ($path)",
  ({ grpcFastPath }) => {
    let manager: Manager;
    let client: grpc.Client &
      Record<
        string,
        (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void
      >;

    beforeAll(async () => {
      manager = await startTestManager({ grpcFastPath });
      const def = protoLoader.loadSync(
        join(packageRoot(), "proto-fixtures/manager/manager.proto"),
        {
          keepCase: true,
          longs: String,
          defaults: true,
        },
      );
      const pkg = grpc.loadPackageDefinition(def) as unknown as {
        manager: { ManagerService: grpc.ServiceClientConstructor };
      };
      const target = manager.grpcUrl.replace(/^http:\/\//, "");
      client = new pkg.manager.ManagerService(
        target,
        grpc.credentials.createInsecure(),
      ) as typeof client;
    });
    afterAll(async () => {
      client?.close();
      await manager?.stop();
    });

    const call = <T>(method: string, req: unknown) =>
      new Promise<T>((resolve, reject) =>
        client[method]?.(req, (err, res) => (err ? reject(err) : resolve(res as T))),
      );

    it("registers, heartbeats and reports with success=true", async () => {
      const nodeId = uniqueNodeId("go");
      const now = Math.floor(Date.now() / 1000);
      const reg = await call<{ success: boolean }>("RegisterNode", {
        node_id: nodeId,
        hostname: "legacy-1",
        ip: "192.0.2.10",
        os: "linux",
        arch: "amd64",
        labels: { env: "lab" },
        daemon_version: "1.0.0",
        agent_version: "go1.22",
      });
      expect(reg.success).toBe(true);

      const hb = await call<{ success: boolean }>("Heartbeat", {
        node_id: nodeId,
        timestamp: String(now),
      });
      expect(hb.success).toBe(true);

      const rep = await call<{ success: boolean }>("ReportMetrics", {
        node_id: nodeId,
        metrics: [
          { type: "cpu", timestamp: String(now), values: { usage_percent: 42 } },
          { type: "memory", timestamp: String(now), values: { used_bytes: 1024 } },
        ],
      });
      expect(rep.success).toBe(true);

      const rows = await manager.database.db
        .select()
        .from(metrics)
        .where(eq(metrics.nodeId, nodeId));
      expect(rows.map((r) => r.type).sort()).toEqual(["cpu", "memory"]);
      expect(rows.find((r) => r.type === "cpu")?.labels).toEqual({});
    });

    it("answers an unknown node's heartbeat with the NOT_FOUND status, not success=false", async () => {
      const err = await call("Heartbeat", {
        node_id: uniqueNodeId("go-ghost"),
        timestamp: "0",
      }).catch((e) => e);
      expect((err as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    });
  },
);
