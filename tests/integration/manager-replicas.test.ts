import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import type { Manager } from "../../src/manager/server.js";
import { startTestManager, testDatabaseConfig, uniqueNodeId } from "../helpers/manager.js";
import { rowCount } from "../helpers/rows.js";
import { waitFor } from "../helpers/wait.js";

const sharedDb = testDatabaseConfig().databaseUrl;

// Two managers must share one database: in-memory PGlite is private to each
// process's instance, so this runs only with TEST_DATABASE_URL (CI's PostgreSQL run).
describe.skipIf(!sharedDb)(
  "two manager replicas on one PostgreSQL (skipped without TEST_DATABASE_URL: PGlite cannot be shared)",
  () => {
    let a: Manager;
    let b: Manager;
    let ca: ManagerClient;
    let cb: ManagerClient;
    const sweeps = async (m: Manager) =>
      (await m.runtime.telemetry.livenessSweeps.get()).values.reduce((n, v) => n + v.value, 0);
    const fleetVia = (m: Manager) =>
      createClient(FleetService, createGrpcTransport({ baseUrl: m.grpcUrl }));

    beforeAll(async () => {
      const overrides = {
        heartbeatIntervalSeconds: 1,
        heartbeat: { ...MANAGER_DEFAULTS.heartbeat, flushIntervalMs: 100 },
        // Earlier files leave silent "online" nodes in the shared database, which
        // would (rightly) trip mass-miss suspicion; that guard has its own test.
        liveness: {
          ...MANAGER_DEFAULTS.liveness,
          gracePeriodSeconds: 3,
          sweepIntervalMs: 100,
          massMissMinNodes: 1_000_000,
        },
      };
      [a, b] = await Promise.all([startTestManager(overrides), startTestManager(overrides)]);
      ca = createManagerClient({ address: a.grpcUrl, timeoutMs: 10_000, retry: false });
      cb = createManagerClient({ address: b.grpcUrl, timeoutMs: 10_000, retry: false });
    });
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it("exactly one replica sweeps; the other takes over when it stops", async () => {
      await waitFor(
        "a sweeping replica",
        () => a.runtime.liveness.isLeader() || b.runtime.liveness.isLeader(),
      );
      const [leader, follower] = a.runtime.liveness.isLeader() ? [a, b] : [b, a];
      const base = await sweeps(leader);
      await waitFor("three more sweeps", async () => (await sweeps(leader)) >= base + 3);
      expect(follower.runtime.liveness.isLeader()).toBe(false);
      expect(await sweeps(follower)).toBe(0);
      // Both still serve daemons.
      for (const c of [ca, cb]) {
        const nodeId = uniqueNodeId("both");
        await c.registerNode({ nodeId });
        const r = await c.reportMetrics({
          nodeId,
          metrics: [
            { type: "cpu", timestamp: BigInt(Math.floor(Date.now() / 1000)), values: { u: 1 } },
          ],
        });
        expect(r).toMatchObject({ success: true, accepted: 1 });
      }
    });

    it("a node heartbeating to one replica is online through the other; a silent one goes offline", async () => {
      const busy = uniqueNodeId("busy");
      const quiet = uniqueNodeId("quiet");
      await ca.registerNode({ nodeId: busy });
      await cb.registerNode({ nodeId: quiet });
      // B never saw `busy` register: its first heartbeat there is a cache miss answered from the database.
      await cb.heartbeat({ nodeId: busy, timestamp: BigInt(Math.floor(Date.now() / 1000)) });
      const fleetB = fleetVia(b);
      const deadline = Date.now() + 15_000;
      let quietOffline = false;
      let lastBeat = 0;
      for (let i = 0; i < 200 && Date.now() < deadline && !quietOffline; i++) {
        // Once a second, as a daemon paced at 1 s would (and within per-node rate limits).
        if (Date.now() - lastBeat >= 1000) {
          lastBeat = Date.now();
          await ca.heartbeat({ nodeId: busy, timestamp: BigInt(Math.floor(lastBeat / 1000)) });
        }
        const [q, bz] = await Promise.all([
          fleetB.getNode({ nodeId: quiet }),
          fleetB.getNode({ nodeId: busy }),
        ]);
        expect(bz.node?.status).toBe("online");
        quietOffline = q.node?.status === "offline";
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(quietOffline).toBe(true);
      const busyNode = (await fleetB.getNode({ nodeId: busy })).node;
      expect(busyNode?.status).toBe("online");
      expect(Number(busyNode?.lastSeenAt)).toBeGreaterThanOrEqual(
        Math.floor(Date.now() / 1000) - 2,
      );
      // …and through A, which wrote the heartbeats.
      expect((await fleetVia(a).getNode({ nodeId: busy })).node?.status).toBe("online");
    });

    it("concurrent ingest through both replicas stores every row exactly once", async () => {
      const ids = Array.from({ length: 40 }, (_, i) => `${uniqueNodeId("dual")}-${i}`);
      await Promise.all(ids.map((nodeId, i) => (i % 2 ? ca : cb).registerNode({ nodeId })));
      const t = Math.floor(Date.now() / 1000);
      const batch = (nodeId: string) => ({
        nodeId,
        metrics: Array.from({ length: 10 }, (_, k) => ({
          type: "cpu",
          timestamp: BigInt(t - k),
          values: { u: k },
        })),
      });
      // Every node reports the same batch through both replicas at once.
      await Promise.all(
        ids.flatMap((id) => [ca.reportMetrics(batch(id)), cb.reportMetrics(batch(id))]),
      );
      expect(await rowCount(a, ids)).toBe(400);
    });

    it("when the sweeping replica stops, the other one takes over", async () => {
      const [leader, follower] = a.runtime.liveness.isLeader() ? [a, b] : [b, a];
      await leader.stop();
      await waitFor("the other replica sweeping", () => follower.runtime.liveness.isLeader());
      const base = await sweeps(follower);
      await waitFor("a sweep by the new leader", async () => (await sweeps(follower)) > base);
    });
  },
);
