import { readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq, gt } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDaemon } from "../../src/daemon/daemon.js";
import { openSpool } from "../../src/daemon/spool/spool.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import { nodeEvents, nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import {
  memoryLogger,
  spooledSamples,
  tempDir,
  testDaemonConfig,
} from "../helpers/daemon-harness.js";
import { startTestManager, testDatabaseConfig, uniqueNodeId } from "../helpers/manager.js";
import { rowCount } from "../helpers/rows.js";
import { waitFor } from "../helpers/wait.js";

/** The daemon runs 1 s loops; a loaded machine may take a while to show their effect. */
const LOOPS = { timeoutMs: 20_000 };

describe("fleet-daemon loops against a real manager", () => {
  // A file-backed PGlite (or the shared PostgreSQL) so the manager can restart on the same data.
  const db = testDatabaseConfig();
  const dbConfig = db.databaseUrl ? db : { databaseUrl: undefined, dataDir: tempDir("fleet-db-") };
  let manager: Manager;
  const start = (port = 0) =>
    startTestManager({
      ...dbConfig,
      heartbeatIntervalSeconds: 1,
      grpcAddr: { host: "127.0.0.1", port },
    });

  beforeAll(async () => {
    manager = await start();
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("registers, heartbeats and reports every collector with its labels", async () => {
    const nodeId = uniqueNodeId("loops");
    const { logger, events } = memoryLogger();
    // The config asks for 1 s heartbeats and the manager's floor (1 s) does not ask for more.
    const config = testDaemonConfig(manager.grpcUrl, nodeId);
    const daemon = createDaemon(config, { logger });
    await daemon.start();
    try {
      const d = manager.database.db;
      await waitFor(
        "two heartbeats",
        () => events.filter((e) => e.msg === "heartbeat ok").length >= 2,
        LOOPS,
      );
      await waitFor(
        "all types stored",
        async () => {
          const rows = await d.select().from(metrics).where(eq(metrics.nodeId, nodeId));
          return ["cpu", "memory", "disk", "network", "daemon"].every((t) =>
            rows.some((r) => r.type === t),
          );
        },
        LOOPS,
      );
      await waitFor(
        "a heartbeat recorded",
        async () => {
          const [n] = await d.select().from(nodes).where(eq(nodes.nodeId, nodeId));
          return n?.lastSeenAt && n.lastSeenAt > n.registeredAt && n.status === "online";
        },
        LOOPS,
      );
      const rows = await d.select().from(metrics).where(eq(metrics.nodeId, nodeId));
      const disk = rows.find((r) => r.type === "disk");
      expect(Object.keys(disk?.labels ?? {}).sort()).toEqual(["device", "fstype", "mount"]);
      expect(rows.find((r) => r.type === "network")?.labels).toEqual({ interface: "lo" });
      expect(Object.keys(rows.find((r) => r.type === "cpu")?.values ?? {})).toEqual(
        expect.arrayContaining(["usage_percent", "iowait_percent", "load15", "cores"]),
      );
      expect(rows.find((r) => r.type === "daemon")?.values).toMatchObject({
        spool_bytes: expect.any(Number),
        batches_dropped: 0,
        last_error_code: expect.any(Number),
      });
      expect(daemon.health.heartbeatIntervalMs).toBe(1_000);
    } finally {
      await daemon.stop();
    }
    expect(daemon.spool.stats().batches).toBe(0);
  });

  it("stores every batch collected during a manager outage exactly once", async () => {
    const nodeId = uniqueNodeId("outage");
    const { logger, events } = memoryLogger();
    const daemon = createDaemon(testDaemonConfig(manager.grpcUrl, nodeId), { logger });
    await daemon.start();
    const port = Number(new URL(manager.grpcUrl).port);
    try {
      await waitFor("first report", () => daemon.health.batchesSent > 0, LOOPS);
      await manager.stop();
      const downAt = Date.now();
      // Down for a while: at least 4 rounds of every collector pile up in the spool.
      await waitFor(
        "a backlog, 3 s down",
        () => daemon.spool.stats().batches >= 16 && Date.now() - downAt >= 3_000,
        LOOPS,
      );
      expect(daemon.health.lastError?.code).toBe("Unavailable");
      manager = await start(port);
      await waitFor("backlog drained", () => daemon.spool.stats().batches <= 2, {
        timeoutMs: 30_000,
      });
    } finally {
      await daemon.stop();
    }
    expect(daemon.spool.stats().batches).toBe(0);
    // Every sample the daemon spooled is a row, and there is no row it did not spool.
    expect(await rowCount(manager, nodeId)).toBe(spooledSamples(events));
    expect(daemon.health.retries).toBeGreaterThan(0);
  });

  it("reports resume with the first heartbeat after an outage, not at the end of the report backoff", async () => {
    const nodeId = uniqueNodeId("resume");
    const { logger, events } = memoryLogger();
    // reconnect_interval 60 s and random pinned to 0: the first registration waits nothing,
    // a failed report backs off 30 s.
    const config = testDaemonConfig(manager.grpcUrl, nodeId);
    const daemon = createDaemon(
      { ...config, manager: { ...config.manager, reconnectIntervalMs: 60_000 } },
      { logger, random: () => 0 },
    );
    const port = Number(new URL(manager.grpcUrl).port);
    await daemon.start();
    try {
      await waitFor("first report", () => daemon.health.batchesSent > 0, LOOPS);
      await manager.stop();
      const failed = events.length;
      await waitFor(
        "a report failed and backed off",
        () => events.slice(failed).some((e) => e.msg.startsWith("report failed")),
        LOOPS,
      );
      manager = await start(port);
      const backAt = Date.now();
      const sentBefore = daemon.health.batchesSent;
      // Well inside the 30 s backoff: only the heartbeat's success can end it this early.
      await waitFor("a report after the restart", () => daemon.health.batchesSent > sentBefore, {
        timeoutMs: 15_000,
      });
      const heartbeatOk = events.findIndex(
        (e, i) => i > failed && e.msg === "heartbeat ok" && Number(e.time) >= backAt,
      );
      expect(heartbeatOk).toBeGreaterThan(0);
      logger.info({ resumedAfterMs: Date.now() - backAt }, "report resumed");
    } finally {
      await daemon.stop();
    }
  });

  it("drains a backlog without starving fresh data", async () => {
    const nodeId = uniqueNodeId("backlog");
    const config = testDaemonConfig(manager.grpcUrl, nodeId);
    // 1,000 batches left from an outage (the last 20 minutes), as a previous run would have spooled them.
    const old = await openSpool({ dir: join(config.workDir, "spool"), maxBytes: 1 << 30 });
    const base = Math.floor(Date.now() / 1000) - 1200;
    for (let i = 0; i < 1000; i++) {
      await old.append([{ type: "backlog", timestamp: base + i, labels: {}, values: { i } }]);
    }
    const { logger, events } = memoryLogger();
    const daemon = createDaemon(config, { logger });
    await daemon.start();
    try {
      await waitFor("backlog drained", () => daemon.spool.stats().batches <= 3, {
        timeoutMs: 60_000,
      });
    } finally {
      await daemon.stop();
    }
    const calls = events.filter((e) => e.msg === "reporting");
    // The backlog takes 16 calls of 64 batches.
    expect(calls.length).toBeGreaterThanOrEqual(16);
    // Each fresh round goes out within the first calls logged after it was spooled (one may
    // be in flight and the next already picking when it lands), not after the backlog.
    const fresh = events.filter((e) => e.msg === "spooled" && e.type === "cpu");
    expect(fresh.length).toBeGreaterThan(0);
    for (const f of fresh) {
      const later = events.slice(events.indexOf(f)).filter((e) => e.msg === "reporting");
      if (later.length < 2) continue;
      const sentIn = later.findIndex((e) => (e.seqs as number[]).includes(Number(f.seq)));
      expect(sentIn, `cpu batch ${f.seq}`).toBeGreaterThanOrEqual(0);
      expect(sentIn).toBeLessThanOrEqual(2);
    }
    expect(await rowCount(manager, nodeId)).toBe(1000 + spooledSamples(events));
  });

  it("reports a gap it had to make (spool full) as type=daemon values and in status.json", async () => {
    const nodeId = uniqueNodeId("gap");
    const { logger, events } = memoryLogger();
    const config = { ...testDaemonConfig(manager.grpcUrl, nodeId), spoolMaxBytes: 4_000 };
    const daemon = createDaemon(config, { logger });
    await daemon.start();
    const port = Number(new URL(manager.grpcUrl).port);
    try {
      await waitFor("first report", () => daemon.health.batchesSent > 0, LOOPS);
      await manager.stop();
      await waitFor("drops", () => daemon.spool.stats().droppedBatches >= 3, { timeoutMs: 20_000 });
      manager = await start(port);
      await waitFor(
        "a daemon row showing the drops",
        async () => {
          const rows = await manager.database.db
            .select()
            .from(metrics)
            .where(and(eq(metrics.nodeId, nodeId), eq(metrics.type, "daemon")));
          return rows.some((r) => (r.values.batches_dropped ?? 0) >= 3);
        },
        LOOPS,
      );
    } finally {
      await daemon.stop();
    }
    const rows = await manager.database.db
      .select()
      .from(metrics)
      .where(and(eq(metrics.nodeId, nodeId), eq(metrics.type, "daemon")));
    const last = rows.sort((a, b) => b.ts.getTime() - a.ts.getTime())[0]?.values ?? {};
    expect(last.dropped_from_timestamp).toBeGreaterThan(0);
    expect(last.dropped_to_timestamp).toBeGreaterThanOrEqual(last.dropped_from_timestamp ?? 0);
    expect(last.last_error_code).toBe(14); // UNAVAILABLE
    expect(events.some((e) => e.msg.startsWith("spool dropped batches"))).toBe(true);
    const status = JSON.parse(readFileSync(join(config.workDir, "status.json"), "utf8"));
    expect(status.spool.dropped_batches).toBeGreaterThanOrEqual(3);
    expect(status.spool.dropped_range.from).toMatch(/^\d{4}-/);
  });

  it("registers again by itself after the manager lost the node (NOT_FOUND) and carries on", async () => {
    const nodeId = uniqueNodeId("wiped");
    const { logger, events } = memoryLogger();
    const daemon = createDaemon(testDaemonConfig(manager.grpcUrl, nodeId), { logger });
    await daemon.start();
    const d = manager.database.db;
    try {
      await waitFor("first report", () => daemon.health.batchesSent > 0, LOOPS);
      // Wipe what the manager knows about this node.
      await d.delete(metrics).where(eq(metrics.nodeId, nodeId));
      await d.delete(nodes).where(eq(nodes.nodeId, nodeId));
      const wipedAt = new Date();
      await waitFor(
        "registered again",
        async () => {
          const [n] = await d.select().from(nodes).where(eq(nodes.nodeId, nodeId));
          return n !== undefined;
        },
        LOOPS,
      );
      await waitFor(
        "metrics flow again",
        async () => {
          const fresh = await d
            .select()
            .from(metrics)
            .where(and(eq(metrics.nodeId, nodeId), gt(metrics.ts, wipedAt)));
          return fresh.length > 5;
        },
        LOOPS,
      );
      expect(events.some((e) => /NOT_FOUND/.test(e.msg))).toBe(true);
      const regs = await d
        .select()
        .from(nodeEvents)
        .where(and(eq(nodeEvents.nodeId, nodeId), eq(nodeEvents.kind, "registered")));
      expect(regs.length).toBeGreaterThanOrEqual(2);
    } finally {
      await daemon.stop();
    }
  });
});
