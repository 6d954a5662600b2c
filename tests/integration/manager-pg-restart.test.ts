import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import { createDaemon } from "../../src/daemon/daemon.js";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { MANAGER_DEFAULTS, type ManagerConfig } from "../../src/manager/config.js";
import { createManager, type Manager } from "../../src/manager/server.js";
import { SWEEPER_LEASE } from "../../src/manager/services/liveness.js";
import { memoryLogger, spooledSamples, testDaemonConfig } from "../helpers/daemon-harness.js";
import {
  registration,
  startTestManager,
  testManagerConfig,
  uniqueNodeId,
} from "../helpers/manager.js";
import {
  freePort,
  type PrivatePostgres,
  privatePostgresAvailable,
  startPrivatePostgres,
} from "../helpers/private-postgres.js";
import { rowCount } from "../helpers/rows.js";
import { errorOf } from "../helpers/rpc.js";
import { waitFor } from "../helpers/wait.js";

/**
 * A real PostgreSQL restart (`pg_ctl stop -m fast`, then start) under running
 * managers: backends terminated with 57P01, reconnects refused, then the same
 * server back. Unlike a cut TCP relay (manager-store-down.test.ts) this is the
 * fault that crashed the manager through a reserved connection (postgres.js#1208).
 */
describe.skipIf(!privatePostgresAvailable())("PostgreSQL restart under the manager", () => {
  let pg: PrivatePostgres;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
  });
  afterAll(async () => {
    await pg?.destroy();
  });
  // A failed assertion mid-outage must not leave the next test without a server.
  afterEach(async () => {
    if (pg && !pg.running) await pg.start();
  });

  const overrides = (): Partial<ManagerConfig> => ({
    databaseUrl: pg.url,
    dataDir: "",
    heartbeatIntervalSeconds: 1,
    heartbeat: { ...MANAGER_DEFAULTS.heartbeat, flushIntervalMs: 100 },
    liveness: { ...MANAGER_DEFAULTS.liveness, sweepIntervalMs: 200 },
    // The probes below call faster than a daemon would.
    admission: { ...MANAGER_DEFAULTS.admission, heartbeatsPerSecond: 0, reportsPerSecond: 0 },
    shutdown: { timeoutMs: 2_000 },
  });

  /** Every method of both services, as a daemon and a person would call it. */
  const everyMethod = (manager: Manager, client: ManagerClient, known: string) => {
    const fleet = createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    const now = BigInt(Math.floor(Date.now() / 1000));
    return {
      registerNode: () => client.registerNode(registration(uniqueNodeId("pgr"))),
      heartbeat: () => client.heartbeat({ nodeId: known, timestamp: now }),
      reportMetrics: () =>
        client.reportMetrics({
          nodeId: known,
          metrics: [{ type: "cpu", timestamp: now, values: { usage_percent: 1 }, labels: {} }],
        }),
      listNodes: () => fleet.listNodes({}),
      getNode: () => fleet.getNode({ nodeId: known }),
      deleteNode: () => fleet.deleteNode({ nodeId: uniqueNodeId("absent") }),
      queryMetrics: () =>
        fleet.queryMetrics({
          nodeId: known,
          type: "cpu",
          name: "usage_percent",
          start: now - 60n,
          end: now + 1n,
        }),
      getFleetSummary: () => fleet.getFleetSummary({}),
    };
  };

  const status = async (m: Manager, path: string) => (await fetch(`${m.httpUrl}${path}`)).status;

  /** While the database is down: UNAVAILABLE with pushback everywhere, not ready, still alive. */
  const expectOutage = async (manager: Manager, client: ManagerClient, known: string) => {
    const methods = everyMethod(manager, client, known);
    for (const [name, call] of Object.entries(methods)) {
      // A heartbeat is coalesced in memory; it answers UNAVAILABLE once a flush has failed.
      const err = await waitFor(`${name} UNAVAILABLE`, async () => {
        const e = await errorOf(call());
        return e?.code === Code.Unavailable ? e : false;
      });
      // Ingest names the rows it could not store; everything else the store's failure code.
      expect(err.rawMessage, name).toMatch(
        /database unavailable \(\w+\); retry later|could not store \d+ rows .*ECONNREFUSED/,
      );
      expect(Number(err.metadata.get("grpc-retry-pushback-ms")), name).toBeGreaterThan(0);
    }
    expect(await status(manager, "/readyz")).toBe(503);
    expect(await status(manager, "/healthz")).toBe(200);
  };

  const expectRecovered = async (manager: Manager, client: ManagerClient, known: string) => {
    await waitFor("/readyz 200", async () => (await status(manager, "/readyz")) === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const methods = everyMethod(manager, client, known);
    for (const [name, call] of Object.entries(methods)) {
      if (name === "deleteNode" || name === "getNode") continue;
      await waitFor(`${name} OK again`, async () => (await errorOf(call())) === undefined, {
        timeoutMs: 15_000,
        intervalMs: 100,
      });
    }
    await expect(methods.getNode()).resolves.toMatchObject({ node: { nodeId: known } });
  };

  /** Sweeps actually run (not "not_leader") by this replica so far. */
  const sweeps = async (m: Manager) =>
    (await m.runtime.telemetry.livenessSweeps.get()).values.reduce((n, v) => n + v.value, 0);

  it("one replica: UNAVAILABLE with pushback during the outage, ready again after, backlog drained", async () => {
    const manager = await startTestManager(overrides());
    const client = createManagerClient({
      address: manager.grpcUrl,
      timeoutMs: 10_000,
      retry: false,
    });
    const known = uniqueNodeId("pgr-known");
    await client.registerNode(registration(known));
    const daemonId = uniqueNodeId("pgr-daemon");
    const { logger, events } = memoryLogger();
    const daemon = createDaemon(testDaemonConfig(manager.grpcUrl, daemonId), { logger });
    await daemon.start();
    let stopping: Promise<void> | undefined;
    const stopDaemon = () => {
      stopping ??= daemon.stop();
      return stopping;
    };
    try {
      await waitFor("the sweeper leading", () => manager.runtime.liveness.isLeader());
      await waitFor("the daemon's first report", () => daemon.health.batchesSent > 0);

      await pg.stop();
      const downAt = Date.now();
      await expectOutage(manager, client, known);
      // Several sweeps and a lease that expires while the server is gone: the
      // sweeper's next statement is what used to crash the process.
      await waitFor(
        "lease lost and a backlog spooled",
        () =>
          !manager.runtime.liveness.isLeader() &&
          daemon.spool.stats().batches >= 8 &&
          Date.now() - downAt >= 6_000,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      expect(await status(manager, "/healthz")).toBe(200);

      await pg.start();
      await expectRecovered(manager, client, known);
      await waitFor("the sweeper leading again", () => manager.runtime.liveness.isLeader(), {
        timeoutMs: 20_000,
      });
      const before = await sweeps(manager);
      await waitFor("sweeps running", async () => (await sweeps(manager)) >= before + 3);
      await waitFor("the daemon's backlog drained", () => daemon.spool.stats().batches <= 2, {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      await stopDaemon();
      expect(daemon.spool.stats().batches).toBe(0);
      // Every sample spooled before, during and after the outage is one row.
      expect(await rowCount(manager, daemonId)).toBe(spooledSamples(events));
    } finally {
      await stopDaemon();
      if (!pg.running) await pg.start();
      await manager.stop();
    }
  }, 180_000);

  it("two replicas: both recover without a restart and exactly one sweeps after", async () => {
    const a = await startTestManager(overrides());
    const b = await startTestManager(overrides());
    try {
      const known = uniqueNodeId("pgr2");
      const ca = createManagerClient({ address: a.grpcUrl, timeoutMs: 10_000, retry: false });
      const cb = createManagerClient({ address: b.grpcUrl, timeoutMs: 10_000, retry: false });
      await ca.registerNode(registration(known));
      await waitFor(
        "one sweeping replica",
        () => a.runtime.liveness.isLeader() !== b.runtime.liveness.isLeader(),
      );

      await pg.stop();
      const downAt = Date.now();
      await Promise.all([expectOutage(a, ca, known), expectOutage(b, cb, known)]);
      // Longer than the lease's 5 s TTL: after the outage the replicas race for it.
      await waitFor(
        "neither replica leading, the lease expired",
        () =>
          !a.runtime.liveness.isLeader() &&
          !b.runtime.liveness.isLeader() &&
          Date.now() - downAt >= 6_000,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      await pg.start();
      await Promise.all([expectRecovered(a, ca, known), expectRecovered(b, cb, known)]);

      await waitFor(
        "a sweeping replica",
        () => a.runtime.liveness.isLeader() || b.runtime.liveness.isLeader(),
        {
          timeoutMs: 20_000,
        },
      );
      const [leader, follower] = a.runtime.liveness.isLeader() ? [a, b] : [b, a];
      const base = { leader: await sweeps(leader), follower: await sweeps(follower) };
      await waitFor(
        "ten sweeps by the leader",
        async () => (await sweeps(leader)) >= base.leader + 10,
        {
          timeoutMs: 20_000,
        },
      );
      expect(await sweeps(follower)).toBe(base.follower);
      expect(follower.runtime.liveness.isLeader()).toBe(false);
      // The database agrees on who leads.
      const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql`select holder from leader_leases where name = ${SWEEPER_LEASE}`;
        expect(rows).toHaveLength(1);
      } finally {
        await sql.end();
      }
    } finally {
      if (!pg.running) await pg.start();
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 180_000);

  it("a database unreachable at start: retries with a log line each, then gives up with one clear error", async () => {
    const port = await freePort();
    const { logger, events } = memoryLogger();
    const manager = createManager(
      testManagerConfig({
        ...overrides(),
        databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
        databaseStartTimeoutMs: 2_000,
      }),
      { logger },
    );
    const err = await manager.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await manager.stop();
    expect(err?.name).toBe("DatabaseUnreachableError");
    expect(err?.message).toBe(
      `database postgres://127.0.0.1:${port}/postgres unreachable (ECONNREFUSED) for 2 s (database.start_timeout); giving up`,
    );
    const retries = events.filter((e) => e.msg === "database unreachable at start; retrying");
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toMatchObject({ code: "ECONNREFUSED", attempt: 1 });
  });

  it("a database that comes up while the manager waits: the manager starts", async () => {
    const late = await startPrivatePostgres();
    await late.stop();
    const { logger, events } = memoryLogger();
    const manager = createManager(
      testManagerConfig({ ...overrides(), databaseUrl: late.url, databaseStartTimeoutMs: 60_000 }),
      { logger },
    );
    try {
      const starting = manager.start();
      await waitFor("a retry logged", () =>
        events.some((e) => e.msg === "database unreachable at start; retrying"),
      );
      await late.start();
      await starting;
      expect(await status(manager, "/readyz")).toBe(200);
    } finally {
      await manager.stop();
      await late.destroy();
    }
  });
});
