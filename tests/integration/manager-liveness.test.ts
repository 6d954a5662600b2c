import { and, count, eq, inArray, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createManagerClient } from "../../src/daemon/transport/client.js";
import { MANAGER_DEFAULTS, type ManagerConfig } from "../../src/manager/config.js";
import { nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import {
  startTestManager,
  testDatabaseConfig,
  uniqueNodeId,
  withTestManager,
} from "../helpers/manager.js";
import { nodeEventsOf, nodeRowOf } from "../helpers/rows.js";
import { waitFor } from "../helpers/wait.js";

/** Liveness options; mass-miss suspicion is off unless a test turns it on. */
const liveness = (over: Partial<ManagerConfig["liveness"]>): ManagerConfig["liveness"] => ({
  ...MANAGER_DEFAULTS.liveness,
  massMissMinNodes: 1_000_000,
  ...over,
});

/**
 * Sets last_seen by hand, after the pending heartbeat flush (a registration is
 * also written by it: its peer and certificate), so the flush cannot undo it.
 */
const setLastSeen = async (m: Manager, ids: string[], at: Date) => {
  await m.runtime.heartbeats.flush();
  await m.database.db.update(nodes).set({ lastSeenAt: at }).where(inArray(nodes.nodeId, ids));
};

describe("liveness", () => {
  beforeAll(async () => {
    if (!testDatabaseConfig().databaseUrl) return;
    // On the shared PostgreSQL database, earlier files' nodes must not count as
    // "the fleet" for mass-miss suspicion here.
    const m = await startTestManager();
    await m.database.db
      .update(nodes)
      .set({ status: "offline", lastSeenAt: new Date(Date.now() - 86_400_000) });
    await m.stop();
  });

  it("a node with a short grace period goes offline, then online again; events say why", async () => {
    await withTestManager(
      {
        heartbeatIntervalSeconds: 1,
        heartbeat: { ...MANAGER_DEFAULTS.heartbeat, flushIntervalMs: 100 },
        liveness: liveness({ gracePeriodSeconds: 2, sweepIntervalMs: 100 }),
        // The restart hold is the grace plus the longest pushback: keep that short here.
        admission: { ...MANAGER_DEFAULTS.admission, pushbackMinMs: 500, pushbackSpreadMs: 0 },
      },
      async (m) => {
        const client = createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });
        const nodeId = uniqueNodeId("live");
        await client.registerNode({ nodeId, hostname: "h" });
        expect((await nodeRowOf(m, nodeId))?.status).toBe("online");

        await waitFor(
          "node offline",
          async () => (await nodeRowOf(m, nodeId))?.status === "offline",
          {
            timeoutMs: 30_000,
          },
        );
        await client.heartbeat({ nodeId, timestamp: BigInt(Math.floor(Date.now() / 1000)) });
        await waitFor(
          "node online",
          async () => (await nodeRowOf(m, nodeId))?.status === "online",
          {
            timeoutMs: 30_000,
          },
        );

        const events = await nodeEventsOf(m, nodeId);
        expect(events.map((e) => e.kind)).toEqual(["registered", "offline", "online"]);
        expect(events[1]?.reason).toMatch(/^no heartbeat for [2-9]s \(grace period 2s\)$/);
        expect(events[2]?.reason).toMatch(/^heartbeat received after \d+s offline$/);
      },
    );
  });

  it("after a restart nobody goes offline before a full grace period and the longest pushback have passed", async () => {
    await withTestManager(
      {
        heartbeatIntervalSeconds: 20,
        liveness: liveness({ sweepIntervalMs: 600_000 }),
      },
      async (m) => {
        const client = createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });
        const nodeId = uniqueNodeId("restart");
        await client.registerNode({ nodeId });
        // Silent for an hour: the manager was down, so it heard nothing.
        await setLastSeen(m, [nodeId], new Date(Date.now() - 3_600_000));
        expect(m.runtime.liveness.graceSeconds()).toBe(60);

        const early = await m.runtime.liveness.sweep(new Date(Date.now() + 30_000));
        expect(early.outcome).toBe("restart_grace");
        expect((await nodeRowOf(m, nodeId))?.status).toBe("online");

        // Plus the longest pushback a shed call got (pushback_min 0.5 s + pushback_spread 10 s):
        // a node told to wait that long still gets its whole grace afterwards.
        const pushedBack = await m.runtime.liveness.sweep(new Date(Date.now() + 65_000));
        expect(pushedBack.outcome).toBe("restart_grace");
        expect((await nodeRowOf(m, nodeId))?.status).toBe("online");

        const later = await m.runtime.liveness.sweep(new Date(Date.now() + 71_000));
        expect(later.outcome).toBe("swept");
        expect(later.transitions).toContainEqual(
          expect.objectContaining({ nodeId, kind: "offline" }),
        );
        expect((await nodeRowOf(m, nodeId))?.status).toBe("offline");
      },
    );
  });

  it("when most of the fleet goes silent at once, the manager suspects itself and holds", async () => {
    await withTestManager(
      {
        heartbeatIntervalSeconds: 20,
        liveness: liveness({
          sweepIntervalMs: 600_000,
          massMissFraction: 0.5,
          massMissMinNodes: 10,
        }),
      },
      async (m) => {
        const client = createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });
        // The fleet is exactly these ten nodes.
        await m.database.db.update(nodes).set({ status: "offline" });
        const ids = Array.from({ length: 10 }, (_, i) => `${uniqueNodeId("mass")}-${i}`);
        await Promise.all(ids.map((nodeId) => client.registerNode({ nodeId })));
        const now = Date.now() + 120_000;
        await setLastSeen(m, ids, new Date(now + 3_600_000));
        await setLastSeen(m, ids.slice(0, 6), new Date(now - 3_600_000));

        const held = await m.runtime.liveness.sweep(new Date(now));
        expect(held.outcome).toBe("held");
        expect(m.runtime.liveness.isSuspect()).toBe(true);
        const online = await m.database.db
          .select({ n: count() })
          .from(nodes)
          .where(and(inArray(nodes.nodeId, ids), eq(nodes.status, "online")));
        expect(online[0]?.n).toBe(10);

        // 4 of 10 silent is below the threshold: those 4 go offline.
        await setLastSeen(m, ids.slice(4, 6), new Date(now + 3_600_000));
        const swept = await m.runtime.liveness.sweep(new Date(now));
        expect(swept.outcome).toBe("swept");
        expect(m.runtime.liveness.isSuspect()).toBe(false);
        expect(
          swept.transitions
            .filter((t) => t.kind === "offline")
            .map((t) => t.nodeId)
            .sort(),
        ).toEqual(ids.slice(0, 4).sort());
      },
    );
  });

  it("a node that flips too often is flapping, with hysteresis", async () => {
    await withTestManager(
      {
        heartbeatIntervalSeconds: 20,
        liveness: liveness({
          sweepIntervalMs: 600_000,
          massMissMinNodes: 1000,
          flapWindowSeconds: 600,
          flapEnterTransitions: 4,
          flapExitTransitions: 1,
        }),
      },
      async (m) => {
        const client = createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });
        const nodeId = uniqueNodeId("flap");
        await client.registerNode({ nodeId });
        const t = Date.now() + 120_000;
        const kinds: string[] = [];
        for (let i = 0; i < 4; i++) {
          const silent = i % 2 === 0;
          await setLastSeen(m, [nodeId], new Date(silent ? t - 3_600_000 : t + 3_600_000));
          const r = await m.runtime.liveness.sweep(new Date(t));
          kinds.push(...r.transitions.filter((x) => x.nodeId === nodeId).map((x) => x.kind));
          if (i < 3) expect((await nodeRowOf(m, nodeId))?.flapping).toBe(false);
        }
        expect(kinds).toEqual(["offline", "online", "offline", "online", "flapping"]);
        expect((await nodeRowOf(m, nodeId))?.flapping).toBe(true);

        // Still flapping while the window holds more than flap_exit changes …
        await m.runtime.liveness.sweep(new Date(t + 1000));
        expect((await nodeRowOf(m, nodeId))?.flapping).toBe(true);
        // … and cleared once the window has moved past them.
        const calm = await m.runtime.liveness.sweep(new Date(t + 700_000));
        expect(calm.transitions).toContainEqual(
          expect.objectContaining({ nodeId, kind: "flapping_stopped" }),
        );
        expect((await nodeRowOf(m, nodeId))?.flapping).toBe(false);
        const events = await nodeEventsOf(m, nodeId);
        expect(events.find((e) => e.kind === "flapping")?.reason).toBe(
          "4 status changes within the flap window",
        );
      },
    );
  });

  it("heartbeats are coalesced into one write per flush, with the daemon's clock skew", async () => {
    await withTestManager(
      { heartbeat: { ...MANAGER_DEFAULTS.heartbeat, flushIntervalMs: 1000 } },
      async (m) => {
        const client = createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });
        const ids = Array.from({ length: 50 }, (_, i) => `${uniqueNodeId("hb")}-${i}`);
        await Promise.all(ids.map((nodeId) => client.registerNode({ nodeId })));
        const old = new Date(Date.now() - 60_000);
        await setLastSeen(m, ids, old);
        // Stop the flush timer so this test decides when the one flush happens
        // (under load a timer tick could otherwise split the rounds).
        await m.runtime.heartbeats.stop();
        const before = await m.runtime.telemetry.heartbeatFlushSize.get();

        const daemonNow = Math.floor(Date.now() / 1000) + 42;
        for (let round = 0; round < 3; round++) {
          await Promise.all(
            ids.map((nodeId) => client.heartbeat({ nodeId, timestamp: BigInt(daemonNow) })),
          );
        }
        expect(m.runtime.heartbeats.pendingCount).toBe(50);
        await m.runtime.heartbeats.flush();
        const after = await m.runtime.telemetry.heartbeatFlushSize.get();
        const pick = (x: typeof after, name: string) =>
          x.values.find((v) => v.metricName === name)?.value ?? 0;
        expect(
          pick(after, "fleet_heartbeat_flush_size_count") -
            pick(before, "fleet_heartbeat_flush_size_count"),
        ).toBe(1);
        expect(
          pick(after, "fleet_heartbeat_flush_size_sum") -
            pick(before, "fleet_heartbeat_flush_size_sum"),
        ).toBe(50);

        const rows = await m.database.db.select().from(nodes).where(inArray(nodes.nodeId, ids));
        for (const r of rows) {
          expect(r.lastSeenAt?.getTime()).toBeGreaterThan(old.getTime() + 30_000);
          expect(r.clockSkewSeconds).toBeGreaterThanOrEqual(41);
          expect(r.clockSkewSeconds).toBeLessThanOrEqual(43);
        }
      },
    );
  });

  it("asks for a longer heartbeat interval as the fleet grows (nodes / max_per_second)", async () => {
    await withTestManager(
      {
        heartbeatIntervalSeconds: 1,
        heartbeat: { ...MANAGER_DEFAULTS.heartbeat, maxPerSecond: 2 },
        liveness: liveness({ sweepIntervalMs: 600_000 }),
      },
      async (m) => {
        const client = createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });
        const ids = Array.from({ length: 12 }, (_, i) => `${uniqueNodeId("pace")}-${i}`);
        await Promise.all(ids.map((nodeId) => client.registerNode({ nodeId })));
        await m.runtime.liveness.sweep();
        const [total] = await m.database.db.select({ n: count() }).from(nodes);
        const expected = Math.max(1, Math.ceil((total?.n ?? 0) / 2));
        expect(expected).toBeGreaterThanOrEqual(6);
        const hb = await waitFor("paced interval", async () => {
          const r = await client.heartbeat({ nodeId: ids[0] as string, timestamp: 0n });
          return r.heartbeatIntervalSeconds === expected ? r : undefined;
        });
        expect(hb.heartbeatIntervalSeconds).toBe(expected);
        expect(m.runtime.liveness.graceSeconds()).toBe(3 * expected);
        const reg = await client.registerNode({ nodeId: ids[1] as string });
        expect(reg.heartbeatIntervalSeconds).toBe(expected);
      },
    );
  });

  it("records node counts by status for /metrics", async () => {
    await withTestManager({}, async (m) => {
      const [byDb] = await m.database.db
        .select({ n: count() })
        .from(nodes)
        .where(sql`status = 'offline'`);
      expect(m.runtime.liveness.counts().offline).toBe(byDb?.n);
    });
  });
});
