import { Code } from "@connectrpc/connect";
import { eq, inArray, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { MANAGER_DEFAULTS, type ManagerConfig } from "../../src/manager/config.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import { nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { fleetClient } from "../helpers/fleet-seed.js";
import {
  startTestManager,
  testDatabaseConfig,
  uniqueNodeId,
  withTestManager,
} from "../helpers/manager.js";
import { nodeEventsOf, nodeRowOf } from "../helpers/rows.js";
import { errorOf } from "../helpers/rpc.js";

/** Liveness options; mass-miss suspicion is off and the timer never fires (sweeps are called). */
const liveness = (over: Partial<ManagerConfig["liveness"]> = {}): ManagerConfig["liveness"] => ({
  ...MANAGER_DEFAULTS.liveness,
  massMissMinNodes: 1_000_000,
  sweepIntervalMs: 600_000,
  ...over,
});

const ago = (seconds: number, from = Date.now()) => new Date(from - seconds * 1000);
const clientOf = (m: Manager): ManagerClient =>
  createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });

describe("pacing and per-node grace (DESIGN §2 Liveness)", () => {
  beforeAll(async () => {
    if (!testDatabaseConfig().databaseUrl) return;
    // On the shared PostgreSQL database, other files' nodes must not count toward the floor.
    const m = await startTestManager();
    await m.database.db.update(nodes).set({ status: "offline", lastSeenAt: ago(86_400) });
    await m.stop();
  });

  it("honours the daemon's interval over the manager's default, and shows interval and grace on GetNode", async () => {
    await withTestManager({ liveness: liveness() }, async (m) => {
      const client = clientOf(m);
      const fast = uniqueNodeId("fast");
      const legacy = uniqueNodeId("legacy");
      // Our daemon says its manager.heartbeat_interval (2 s); the manager's default is 60 s.
      const reg = await client.registerNode({ nodeId: fast, heartbeatIntervalSeconds: 2 });
      expect(reg.heartbeatIntervalSeconds).toBe(2);
      const hb = await client.heartbeat({ nodeId: fast, timestamp: 0n });
      expect(hb.heartbeatIntervalSeconds).toBe(2);
      // A daemon of the existing system says nothing: it is asked for heartbeat.interval.
      expect((await client.registerNode({ nodeId: legacy })).heartbeatIntervalSeconds).toBe(60);
      // Answers are shared per second and interval (handlers/heartbeat.ts): each node
      // still hears its own interval, and the server time moves on.
      const t0 = BigInt(Math.floor(Date.now() / 1000));
      const answers = [];
      for (const nodeId of [fast, legacy, fast, legacy])
        answers.push(await client.heartbeat({ nodeId, timestamp: 0n }));
      expect(answers.map((a) => a.heartbeatIntervalSeconds)).toEqual([2, 60, 2, 60]);
      expect(answers[0]?.serverTime).toBeGreaterThanOrEqual(t0);
      await new Promise((r) => setTimeout(r, 1100));
      const later = await client.heartbeat({ nodeId: fast, timestamp: 0n });
      expect(later.serverTime).toBeGreaterThan(answers[3]?.serverTime ?? 0n);

      const api = fleetClient(m);
      const { node } = await api.getNode({ nodeId: fast });
      expect(node).toMatchObject({
        heartbeatIntervalSeconds: 2,
        gracePeriodSeconds: 6,
        observedIntervalSeconds: 0,
      });
      const old = (await api.getNode({ nodeId: legacy })).node;
      expect(old).toMatchObject({ heartbeatIntervalSeconds: 60, gracePeriodSeconds: 180 });
      expect((await nodeRowOf(m, fast))?.requestedIntervalSeconds).toBe(2);
    });
  });

  it("a large fleet is slowed down: the floor is nodes / max_per_second", async () => {
    await withTestManager(
      {
        heartbeat: { ...MANAGER_DEFAULTS.heartbeat, maxPerSecond: 2 },
        liveness: liveness(),
      },
      async (m) => {
        const client = clientOf(m);
        const ids = Array.from({ length: 12 }, (_, i) => `${uniqueNodeId("floor")}-${i}`);
        await Promise.all(
          ids.map((nodeId) => client.registerNode({ nodeId, heartbeatIntervalSeconds: 2 })),
        );
        await m.runtime.liveness.sweep();
        const [total] = await m.database.db.select({ n: sql<number>`count(*)::int` }).from(nodes);
        const floor = Math.ceil(Number(total?.n) / 2);
        expect(floor).toBeGreaterThanOrEqual(6);
        expect(m.runtime.pacing.floorSeconds()).toBe(floor);
        const hb = await client.heartbeat({ nodeId: ids[0] as string, timestamp: 0n });
        expect(hb.heartbeatIntervalSeconds).toBe(floor);
        const { node } = await fleetClient(m).getNode({ nodeId: ids[1] as string });
        expect(node).toMatchObject({
          heartbeatIntervalSeconds: floor,
          gracePeriodSeconds: 3 * floor,
        });
      },
    );
  });

  it("grace follows the cadence a node really keeps (a legacy daemon that ignores the answer does not flap)", async () => {
    await withTestManager({ liveness: liveness() }, async (m) => {
      const client = clientOf(m);
      // Asked for 60 s (default), it keeps 100 s: grace 3 × 100 s, not 180 s.
      const slow = uniqueNodeId("cadence");
      await client.registerNode({ nodeId: slow });
      await m.database.db
        .update(nodes)
        .set({ lastSeenAt: ago(100) })
        .where(eq(nodes.nodeId, slow));
      await client.heartbeat({ nodeId: slow, timestamp: 0n });
      await m.runtime.heartbeats.flush();
      const row = await nodeRowOf(m, slow);
      expect(row?.observedIntervalSeconds).toBeGreaterThanOrEqual(100);
      expect(row?.observedIntervalSeconds).toBeLessThanOrEqual(101);
      const { node } = await fleetClient(m).getNode({ nodeId: slow });
      expect(node?.gracePeriodSeconds).toBe(3 * (row?.observedIntervalSeconds ?? 0));

      // Swept as if the manager had run for 1000 s: silent for 200 s, past 180 s but
      // within its own 3 × 100 s, it stays online; silent for 310 s it goes offline.
      const later = Date.now() + 1_000_000;
      const silentFor = (seconds: number) =>
        m.database.db
          .update(nodes)
          .set({ lastSeenAt: ago(seconds, later) })
          .where(eq(nodes.nodeId, slow));
      await silentFor(200);
      await m.runtime.liveness.sweep(new Date(later));
      expect((await nodeRowOf(m, slow))?.status).toBe("online");
      await silentFor(310);
      await m.runtime.liveness.sweep(new Date(later));
      expect((await nodeRowOf(m, slow))?.status).toBe("offline");

      // A gap longer than its grace (an outage) does not become its cadence.
      const back = uniqueNodeId("outage");
      await client.registerNode({ nodeId: back, heartbeatIntervalSeconds: 2 });
      await m.database.db
        .update(nodes)
        .set({ lastSeenAt: ago(3600) })
        .where(eq(nodes.nodeId, back));
      await client.heartbeat({ nodeId: back, timestamp: 0n });
      await m.runtime.heartbeats.flush();
      expect((await nodeRowOf(m, back))?.observedIntervalSeconds).toBe(0);
    });
  });

  it("a 2 s node goes offline after 3 × 2 s, while the restart hold keeps a 60 s node online (per node)", async () => {
    await withTestManager({ liveness: liveness() }, async (m) => {
      const client = clientOf(m);
      const fast = uniqueNodeId("hold-fast");
      const slow = uniqueNodeId("hold-slow");
      await client.registerNode({ nodeId: fast, heartbeatIntervalSeconds: 2 });
      await client.registerNode({ nodeId: slow });
      // A registration is also written by the next heartbeat flush (its peer and
      // certificate): flush it first, so the rows below stay as the test sets them.
      await m.runtime.heartbeats.flush();
      // Both silent since long before this manager started.
      await m.database.db
        .update(nodes)
        .set({ lastSeenAt: ago(3600) })
        .where(inArray(nodes.nodeId, [fast, slow]));
      // The hold is a node's own grace plus the longest pushback handed out at the
      // start (liveness.ts). 7 s past that: beyond the fast node's 6 s grace,
      // within the slow node's 180 s.
      const { pushbackMinMs, pushbackSpreadMs } = MANAGER_DEFAULTS.admission;
      const result = await m.runtime.liveness.sweep(
        new Date(Date.now() + pushbackMinMs + pushbackSpreadMs + 7_000),
      );
      expect(result.outcome).toBe("restart_grace");
      expect(result.transitions).toContainEqual(
        expect.objectContaining({ nodeId: fast, kind: "offline" }),
      );
      expect((await nodeRowOf(m, fast))?.status).toBe("offline");
      expect((await nodeRowOf(m, slow))?.status).toBe("online");
      const events = await nodeEventsOf(m, fast);
      expect(events.at(-1)?.reason).toMatch(/^no heartbeat for \d+s \(grace period 6s\)$/);

      // A fresh 2 s node silent for 5 s stays online, at 7 s it is offline.
      const fresh = uniqueNodeId("fresh");
      await client.registerNode({ nodeId: fresh, heartbeatIntervalSeconds: 2 });
      await m.runtime.heartbeats.flush();
      const t0 = Date.now() + 200_000;
      await m.database.db
        .update(nodes)
        .set({ lastSeenAt: new Date(t0) })
        .where(eq(nodes.nodeId, fresh));
      await m.runtime.liveness.sweep(new Date(t0 + 5_000));
      expect((await nodeRowOf(m, fresh))?.status).toBe("online");
      await m.runtime.liveness.sweep(new Date(t0 + 7_000));
      expect((await nodeRowOf(m, fresh))?.status).toBe("offline");
    });
  });

  it("RegisterNode makes an offline node online at once, with an online event saying it re-registered", async () => {
    await withTestManager({ liveness: liveness() }, async (m) => {
      const client = clientOf(m);
      const nodeId = uniqueNodeId("rereg");
      await client.registerNode({ nodeId, labels: { env: "prod", role: "web" } });
      await m.database.db
        .update(nodes)
        .set({ status: "offline", statusChangedAt: ago(42) })
        .where(eq(nodes.nodeId, nodeId));
      // A changed label set replaces the old one: role is gone.
      await client.registerNode({ nodeId, labels: { env: "staging" } });
      const row = await nodeRowOf(m, nodeId);
      expect(row?.status).toBe("online");
      expect(row?.labels).toEqual({ env: "staging" });
      expect(Date.now() - (row?.statusChangedAt.getTime() ?? 0)).toBeLessThan(60_000);
      const events = await nodeEventsOf(m, nodeId);
      expect(events.map((e) => e.kind)).toEqual(["registered", "registered", "online"]);
      expect(events[2]?.reason).toMatch(/^re-registered after 4[2-9]s offline$/);
      // An online node re-registering gets no extra online event.
      await client.registerNode({ nodeId, labels: { env: "staging" } });
      expect((await nodeEventsOf(m, nodeId)).map((e) => e.kind)).toEqual([
        "registered",
        "registered",
        "online",
        "registered",
      ]);
    });
  });

  it("refuses an absurd heartbeat interval with INVALID_ARGUMENT naming the field", async () => {
    await withTestManager({ liveness: liveness() }, async (m) => {
      const nodeId = uniqueNodeId("absurd");
      const err = await errorOf(
        clientOf(m).registerNode({ nodeId, heartbeatIntervalSeconds: 2_000_000_000 }),
      );
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.rawMessage).toBe(
        "heartbeat_interval_seconds: must be 0 (not said) to 86400, got 2000000000",
      );
      expect(await nodeRowOf(m, nodeId)).toBeUndefined();
    });
  });

  it("forgets nodes offline longer than forget_after, and ephemeral ones sooner; a deleted event says why", async () => {
    await withTestManager(
      { liveness: liveness({ forgetAfterSeconds: 7 * 86_400, ephemeralForgetAfterSeconds: 300 }) },
      async (m) => {
        const client = clientOf(m);
        const gone = uniqueNodeId("gone");
        const recent = uniqueNodeId("recent");
        const once = uniqueNodeId("once");
        const onceFresh = uniqueNodeId("once-fresh");
        await client.registerNode({ nodeId: gone });
        await client.registerNode({ nodeId: recent });
        await client.registerNode({ nodeId: once, ephemeral: true });
        await client.registerNode({ nodeId: onceFresh, ephemeral: true });
        await client.reportMetrics({
          nodeId: gone,
          metrics: [
            {
              type: "cpu",
              timestamp: BigInt(Math.floor(Date.now() / 1000)),
              values: { usage_percent: 1 },
            },
          ],
        });
        const offlineSince = (id: string, seconds: number) =>
          m.database.db
            .update(nodes)
            .set({
              status: "offline",
              statusChangedAt: ago(seconds),
              lastSeenAt: ago(seconds + 200),
            })
            .where(eq(nodes.nodeId, id));
        // A registration is also written by the next heartbeat flush (its peer and
        // certificate): flush it first, so the rows below stay as the test sets them.
        await m.runtime.heartbeats.flush();
        await offlineSince(gone, 8 * 86_400);
        await offlineSince(recent, 86_400);
        await offlineSince(once, 301);
        await offlineSince(onceFresh, 100);

        const result = await m.runtime.liveness.sweep();
        const deleted = result.transitions.filter((t) => t.kind === "deleted").map((t) => t.nodeId);
        expect(deleted.sort()).toEqual([gone, once].sort());
        expect(await nodeRowOf(m, gone)).toBeUndefined();
        expect(await nodeRowOf(m, once)).toBeUndefined();
        expect((await nodeRowOf(m, recent))?.status).toBe("offline");
        expect((await nodeRowOf(m, onceFresh))?.status).toBe("offline");
        const left = await m.database.db.select().from(metrics).where(eq(metrics.nodeId, gone));
        expect(left).toEqual([]);
        expect((await nodeEventsOf(m, gone)).at(-1)).toEqual({
          kind: "deleted",
          reason: expect.stringMatching(
            /^offline for 6912\d\ds \(liveness\.forget_after 604800s\)$/,
          ),
        });
        expect((await nodeEventsOf(m, once)).at(-1)).toEqual({
          kind: "deleted",
          reason: expect.stringMatching(
            /^ephemeral node offline for 30\ds \(liveness\.ephemeral_forget_after 300s\)$/,
          ),
        });
        // Gone means NOT_FOUND for the API, and a daemon still running registers again.
        const err = await errorOf(fleetClient(m).getNode({ nodeId: gone }));
        expect(err?.code).toBe(Code.NotFound);
      },
    );
  });

  it("forget_after is off by default", async () => {
    await withTestManager({ liveness: liveness() }, async (m) => {
      const nodeId = uniqueNodeId("stays");
      await clientOf(m).registerNode({ nodeId });
      // A registration is also written by the next heartbeat flush (its peer and
      // certificate): flush it first, so the rows below stay as the test sets them.
      await m.runtime.heartbeats.flush();
      await m.database.db
        .update(nodes)
        .set({
          status: "offline",
          statusChangedAt: ago(365 * 86_400),
          lastSeenAt: ago(366 * 86_400),
        })
        .where(eq(nodes.nodeId, nodeId));
      const result = await m.runtime.liveness.sweep();
      expect(result.transitions.filter((t) => t.nodeId === nodeId)).toEqual([]);
      expect((await nodeRowOf(m, nodeId))?.status).toBe("offline");
    });
  });
});
