import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { count, eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService } from "../../gen/fleet/v1/fleet_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import { openDatabase } from "../../src/manager/db/client.js";
import { runMigrations } from "../../src/manager/db/migrate.js";
import { listDailyPartitions, partitionName } from "../../src/manager/db/queries/partitions.js";
import { rowsOf } from "../../src/manager/db/queries/rows.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import type { Manager } from "../../src/manager/server.js";
import { startTestManager, testDatabaseConfig, uniqueNodeId } from "../helpers/manager.js";
import { waitFor } from "../helpers/wait.js";

const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));
const DAY = 86_400_000;
const day = (offsetDays: number, from = Date.now()) =>
  new Date(Math.floor(from / DAY) * DAY + offsetDays * DAY);

describe("operations: /healthz, /readyz, /metrics, grpc.health.v1", () => {
  let manager: Manager;
  let client: ManagerClient;

  beforeAll(async () => {
    manager = await startTestManager();
    client = createManagerClient({ address: manager.grpcUrl, timeoutMs: 10_000, retry: false });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("/healthz is up; /readyz needs the database and every migration", async () => {
    let res = await fetch(`${manager.httpUrl}/healthz`);
    expect([res.status, await res.text()]).toEqual([200, "ok\n"]);
    res = await fetch(`${manager.httpUrl}/readyz`);
    expect([res.status, await res.text()]).toEqual([200, "ready\n"]);

    const db = manager.database.db;
    const last = sql`(select max(id) from drizzle.__drizzle_migrations)`;
    const saved = await db.execute(
      sql`select * from drizzle.__drizzle_migrations where id = ${last}`,
    );
    const row = (Array.isArray(saved) ? saved : (saved as { rows: unknown[] }).rows)[0] as {
      id: number;
      hash: string;
      created_at: string | number;
    };
    await db.execute(sql`delete from drizzle.__drizzle_migrations where id = ${row.id}`);
    try {
      res = await fetch(`${manager.httpUrl}/readyz`);
      expect([res.status, await res.text()]).toEqual([503, "1 database migrations not applied\n"]);
    } finally {
      await db.execute(sql`
        insert into drizzle.__drizzle_migrations (id, hash, created_at)
        values (${row.id}, ${row.hash}, ${row.created_at})`);
    }
    res = await fetch(`${manager.httpUrl}/readyz`);
    expect(res.status).toBe(200);
  });

  it("/metrics shows RPCs by method and code, ingest batches, heartbeat flushes, nodes by status", async () => {
    const nodeId = uniqueNodeId("ops");
    await client.registerNode({ nodeId });
    await client.heartbeat({ nodeId, timestamp: 0n });
    await client.reportMetrics({
      nodeId,
      metrics: [
        { type: "cpu", timestamp: BigInt(Math.floor(Date.now() / 1000)), values: { u: 1 } },
      ],
    });
    await client.registerNode({ nodeId: "bad/id" }).catch(() => undefined);
    await manager.runtime.heartbeats.flush();
    await manager.runtime.liveness.sweep();
    const res = await fetch(`${manager.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain(
      'fleet_rpc_requests_total{method="manager.ManagerService/RegisterNode",code="OK"} 1',
    );
    expect(text).toContain(
      'fleet_rpc_requests_total{method="manager.ManagerService/RegisterNode",code="InvalidArgument"} 1',
    );
    expect(text).toMatch(
      /fleet_rpc_duration_seconds_count\{method="manager.ManagerService\/ReportMetrics",code="OK"\} 1/,
    );
    expect(text).toMatch(/fleet_ingest_batch_rows_sum 1\n/);
    expect(text).toMatch(/fleet_ingest_commit_seconds_count 1\n/);
    expect(text).toMatch(/fleet_heartbeat_flush_size_sum [1-9]/);
    expect(text).toMatch(/fleet_nodes\{status="online"\} [1-9]/);
    expect(text).toContain("fleet_liveness_leader 1");
  });

  it("/metrics passes `promtool check metrics` (as Prometheus would lint it)", async (ctx) => {
    if (!PROMTOOL) {
      ctx.skip("promtool not installed (Debian: apt-get install prometheus); CI installs it");
      return;
    }
    // Every family present: an RPC, an ingest batch, a flush and a sweep behind it.
    const nodeId = uniqueNodeId("promtool");
    await client.registerNode({ nodeId });
    await client.heartbeat({ nodeId, timestamp: 0n });
    await manager.runtime.heartbeats.flush();
    await manager.runtime.liveness.sweep();
    const text = await (await fetch(`${manager.httpUrl}/metrics`)).text();
    const run = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(run.stderr + run.stdout).toBe("");
    expect(run.status).toBe(0);
  });

  it("grpc.health.v1: Check and Watch report SERVING, then NOT_SERVING on shutdown", async () => {
    const m = await startTestManager();
    const health = createClient(Health, createGrpcTransport({ baseUrl: m.grpcUrl }));
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
    expect((await health.check({ service: "manager.ManagerService" })).status).toBe(Status.SERVING);
    const err = await health.check({ service: "nope" }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toBe('service: unknown service "nope"');

    const seen: Status[] = [];
    const watching = (async () => {
      for await (const r of health.watch({ service: "" })) seen.push(r.status);
    })();
    await waitFor("first watch status", () => seen.length > 0);
    const stopping = m.stop();
    await watching;
    await stopping;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });

  it("/metrics counts a stream when it ends, with how it ended", async () => {
    const fleet = createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    const method = 'method="fleet.v1.FleetService/WatchNodes"';
    const scrape = async () => (await fetch(`${manager.httpUrl}/metrics`)).text();
    const ctl = new AbortController();
    let opened = false;
    const open = (async () => {
      for await (const _ of fleet.watchNodes({}, { signal: ctl.signal })) opened = true;
    })().catch(() => undefined);
    // Open (its first keepalive arrived): not counted yet.
    await waitFor("the stream's opening keepalive", () => opened);
    expect(await scrape()).not.toContain(`fleet_rpc_requests_total{${method}`);
    ctl.abort();
    await open;
    await waitFor("the cancelled stream counted", async () =>
      (await scrape()).includes(`fleet_rpc_requests_total{${method},code="Canceled"} 1`),
    );
    // A stream refused mid-way is counted with its error code.
    const bad = fleet.watchNodes({ afterEventId: -1n });
    await expect(
      (async () => {
        for await (const _ of bad) {
        }
      })(),
    ).rejects.toThrow(/after_event_id/);
    expect(await scrape()).toContain(
      `fleet_rpc_requests_total{${method},code="InvalidArgument"} 1`,
    );
  });
});

/** A database of its own: retention drops partitions, which must not touch other files' rows. */
async function isolatedDatabase(): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
  const shared = testDatabaseConfig().databaseUrl;
  if (!shared) return { url: undefined, drop: async () => {} };
  const name = `fleet_test_ret_${randomBytes(3).toString("hex")}`;
  const admin = postgres(shared, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(shared);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

describe("retention by daily partitions", () => {
  it("creates partitions ahead, moves stragglers out of the default one, drops whole days past retention", async () => {
    const iso = await isolatedDatabase();
    const m = await startTestManager({
      ...(iso.url ? { databaseUrl: iso.url } : {}),
      retention: { ...MANAGER_DEFAULTS.retention, days: 2, partitionsAhead: 2 },
    });
    try {
      const db = m.database.db;
      let parts = (await listDailyPartitions(db)).map((p) => p.name);
      expect(parts).toEqual([-2, -1, 0, 1, 2].map((d) => partitionName(day(d))));

      const client = createManagerClient({ address: m.grpcUrl, timeoutMs: 10_000, retry: false });
      const nodeId = uniqueNodeId("ret");
      await client.registerNode({ nodeId });
      const now = Math.floor(Date.now() / 1000);
      await client.reportMetrics({
        nodeId,
        metrics: [{ type: "cpu", timestamp: BigInt(now), values: { u: 1 } }],
      });
      // A row beyond the partitions made ahead lands in the default partition.
      const far = day(5).getTime() + 3_600_000;
      await db
        .insert(metrics)
        .values({ nodeId, type: "cpu", labels: {}, ts: new Date(far), values: { u: 2 } });
      const inDefault = async () =>
        rowsOf<{ n: number }>(
          await db.execute(sql`select count(*)::int as n from metrics_default`),
        )[0]?.n;
      expect(await inDefault()).toBe(1);

      // Four days on: today's partition is past retention, day +5 is created with its row.
      await m.runtime.retention.maintain(new Date(Date.now() + 4 * DAY));
      parts = (await listDailyPartitions(db)).map((p) => p.name);
      expect(parts).toEqual([2, 3, 4, 5, 6].map((d) => partitionName(day(d))));
      expect(await inDefault()).toBe(0);
      const rows = await db
        .select({ ts: metrics.ts })
        .from(metrics)
        .where(eq(metrics.nodeId, nodeId));
      expect(rows.map((r) => r.ts.getTime())).toEqual([far]);
      const [n] = await db.select({ n: count() }).from(metrics);
      expect(n?.n).toBe(1);
    } finally {
      await m.stop();
      await iso.drop();
    }
  });

  // PGlite in memory has a single session per database: nothing to serialize there.
  it.skipIf(!testDatabaseConfig().databaseUrl)(
    "migrations are serialized by an advisory lock: two replicas migrating at once both succeed (PostgreSQL only)",
    async () => {
      const iso = await isolatedDatabase();
      try {
        const a = await openDatabase({ url: iso.url, dataDir: "" });
        const b = await openDatabase({ url: iso.url, dataDir: "" });
        await Promise.all([runMigrations(a), runMigrations(b)]);
        const r = await a.db.execute(
          sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
        );
        expect(rowsOf<{ n: number }>(r)[0]?.n).toBeGreaterThanOrEqual(2);
        await a.close();
        await b.close();
      } finally {
        await iso.drop();
      }
    },
  );
});
