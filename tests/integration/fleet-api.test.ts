import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService, type NodeEvent } from "../../gen/fleet/v1/fleet_pb.js";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { createLogger } from "../../src/common/logging.js";
import { rowsOf } from "../../src/manager/db/queries/rows.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import { nodeEvents } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { createManager } from "../../src/manager/server.js";
import { fleetClient, seedNodes, startFleetManager } from "../helpers/fleet-seed.js";
import { testManagerConfig, uniqueNodeId } from "../helpers/manager.js";
import { codeOf } from "../helpers/rpc.js";
import { waitFor } from "../helpers/wait.js";

describe("FleetService query API (Connect protocol on the HTTP port)", () => {
  let manager: Manager;
  let fleet: ReturnType<typeof fleetClient>;
  let daemon: ReturnType<typeof createClient<typeof ManagerService>>;

  beforeAll(async () => {
    manager = await startFleetManager();
    fleet = fleetClient(manager);
    daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
  });
  afterAll(async () => {
    await manager?.stop();
  });

  const register = (nodeId: string, labels: Record<string, string> = {}) =>
    daemon.registerNode({
      nodeId,
      hostname: `${nodeId}.lan`,
      ip: "10.1.2.3",
      os: "linux",
      arch: "x64",
      labels,
      daemonVersion: "2.0.0",
      agentVersion: "",
    });

  describe("ListNodes over 10,000 seeded nodes", () => {
    const batch = uniqueNodeId("batch");
    const n = 10_000;
    // Expected counts, computed from the seeding rule (offline iff i % 3 = 0).
    const range = Array.from({ length: n }, (_, k) => k + 1);
    const online = range.filter((i) => i % 3 !== 0);

    beforeAll(async () => {
      await seedNodes(manager.database.db, { prefix: batch, count: n, batch, os: "seedos" });
    });

    it("pages through every node exactly once, in node_id order, with a stable total", async () => {
      const seen: string[] = [];
      let token = "";
      for (let page = 0; page < 20; page++) {
        const res = await fleet.listNodes({
          selector: `batch=${batch}`,
          pageSize: 1000,
          pageToken: token,
        });
        expect(Number(res.total)).toBe(n);
        seen.push(...res.nodes.map((x) => x.nodeId));
        token = res.nextPageToken;
        if (!token) break;
      }
      expect(token).toBe("");
      expect(seen).toHaveLength(n);
      expect(new Set(seen).size).toBe(n);
      expect(seen).toEqual([...seen].sort());
      expect(seen[0]).toBe(`${batch}-000001`);
    });

    it("filters by status and every selector form", async () => {
      const count = async (status: string, selector: string) =>
        Number(
          (await fleet.listNodes({ status, selector: `batch=${batch},${selector}`, pageSize: 1 }))
            .total,
        );
      expect(await count("online", "parity=even")).toBe(online.filter((i) => i % 2 === 0).length);
      expect(await count("offline", "parity!=even")).toBe(
        range.filter((i) => i % 3 === 0 && i % 2 === 1).length,
      );
      expect(await count("", "gpu")).toBe(range.filter((i) => i % 5 === 0).length);
      expect(await count("", "!gpu")).toBe(range.filter((i) => i % 5 !== 0).length);
      expect(await count("online", "gpu=a100,parity!=odd")).toBe(
        online.filter((i) => i % 5 === 0 && i % 2 === 0).length,
      );
      // A filtered walk visits the same set the count promises.
      const ids: string[] = [];
      let token = "";
      for (let page = 0; page < 50 && (page === 0 || token); page++) {
        const res = await fleet.listNodes({
          status: "offline",
          selector: `batch=${batch},gpu`,
          pageSize: 100,
          pageToken: token,
        });
        ids.push(...res.nodes.map((x) => x.nodeId));
        for (const node of res.nodes) expect(node.status).toBe("offline");
        token = res.nextPageToken;
      }
      expect(ids).toEqual(
        range.filter((i) => i % 15 === 0).map((i) => `${batch}-${String(i).padStart(6, "0")}`),
      );
    });

    it("rejects a bad status or selector with INVALID_ARGUMENT", async () => {
      expect(await codeOf(fleet.listNodes({ status: "sleepy" }))).toBe(Code.InvalidArgument);
      expect(await codeOf(fleet.listNodes({ selector: "a=b,=c" }))).toBe(Code.InvalidArgument);
    });

    it("summarises the fleet by status, OS, architecture and version", async () => {
      const s = await fleet.getFleetSummary({});
      const [db] = rowsOf<{ total: number; online: number; offline: number }>(
        await manager.database.db.execute(sql`
          select count(*)::int as total,
                 count(*) filter (where status = 'online')::int as online,
                 count(*) filter (where status = 'offline')::int as offline
            from nodes`),
      );
      expect(Number(s.total)).toBe(db?.total);
      expect(Number(s.online)).toBe(db?.online);
      expect(Number(s.offline)).toBe(db?.offline);
      expect(Number(s.byOs.seedos)).toBe(n);
      expect(Number(s.byStatus.online) + Number(s.byStatus.offline ?? 0n)).toBeLessThanOrEqual(
        Number(s.total),
      );
      expect(Number(s.byArch.x64)).toBeGreaterThanOrEqual(n / 2);
      expect(Number(s.byVersion["1.0"])).toBeGreaterThanOrEqual(
        range.filter((i) => i % 3 === 0).length,
      );
      expect(Number(s.lastSeenAt)).toBeGreaterThan(Date.now() / 1000 - 3600);
    });
  });

  it("GetNode returns the node, NOT_FOUND for an unknown id", async () => {
    const id = uniqueNodeId();
    await register(id, { env: "prod" });
    const { node } = await fleet.getNode({ nodeId: id });
    expect(node?.hostname).toBe(`${id}.lan`);
    expect(node?.labels).toEqual({ env: "prod" });
    expect(node?.status).toBe("online");
    expect(await codeOf(fleet.getNode({ nodeId: uniqueNodeId("nobody") }))).toBe(Code.NotFound);
  });

  it("DeleteNode removes the node and its metrics and records a deleted event", async () => {
    const id = uniqueNodeId();
    await register(id);
    const now = Math.floor(Date.now() / 1000);
    await daemon.reportMetrics({
      nodeId: id,
      metrics: [{ type: "cpu", timestamp: BigInt(now), values: { usage_percent: 5 } }],
    });
    const db = manager.database.db;
    expect(await db.select().from(metrics).where(eq(metrics.nodeId, id))).toHaveLength(1);

    await fleet.deleteNode({ nodeId: id });

    expect(await codeOf(fleet.getNode({ nodeId: id }))).toBe(Code.NotFound);
    expect(await db.select().from(metrics).where(eq(metrics.nodeId, id))).toHaveLength(0);
    const events = await db
      .select()
      .from(nodeEvents)
      .where(eq(nodeEvents.nodeId, id))
      .orderBy(nodeEvents.id);
    expect(events.map((e) => e.kind)).toEqual(["registered", "deleted"]);
    expect(await codeOf(fleet.deleteNode({ nodeId: id }))).toBe(Code.NotFound);
    expect(await codeOf(fleet.deleteNode({ nodeId: "" }))).toBe(Code.InvalidArgument);
  });

  describe("QueryMetrics", () => {
    const id = uniqueNodeId();
    // Two buckets of 60 s per mount, aligned to a multiple of 60.
    const t0 = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
    const points: [string, number, number][] = [
      ["/", t0 + 0, 10],
      ["/", t0 + 20, 20],
      ["/", t0 + 40, 60],
      ["/", t0 + 65, 7],
      ["/", t0 + 119, 9],
      ["/var", t0 + 10, 1],
      ["/var", t0 + 70, 3],
    ];

    beforeAll(async () => {
      await register(id);
      await daemon.reportMetrics({
        nodeId: id,
        metrics: [
          ...points.map(([mount, t, v]) => ({
            type: "disk",
            timestamp: BigInt(t),
            labels: { mount },
            values: { usage_percent: v, used_bytes: v * 1000 },
          })),
          // A row without the requested key is not a zero.
          {
            type: "disk",
            timestamp: BigInt(t0 + 30),
            labels: { mount: "/" },
            values: { other: 1 },
          },
        ],
      });
    });

    it("averages into step buckets per label set, as computed by hand", async () => {
      const res = await fleet.queryMetrics({
        nodeId: id,
        type: "disk",
        name: "usage_percent",
        start: BigInt(t0),
        end: BigInt(t0 + 120),
        stepSeconds: 60,
      });
      expect(res.stepSeconds).toBe(60);
      const got = res.series.map((s) => ({
        labels: s.labels,
        points: s.points.map((p) => [Number(p.timestamp), p.value]),
      }));
      expect(got).toEqual([
        {
          labels: { mount: "/" },
          points: [
            [t0, (10 + 20 + 60) / 3],
            [t0 + 60, (7 + 9) / 2],
          ],
        },
        {
          labels: { mount: "/var" },
          points: [
            [t0, 1],
            [t0 + 60, 3],
          ],
        },
      ]);
    });

    it("returns raw points without a step, filtered by labels and the half-open range", async () => {
      const res = await fleet.queryMetrics({
        nodeId: id,
        type: "disk",
        name: "used_bytes",
        labels: { mount: "/" },
        start: BigInt(t0 + 20),
        end: BigInt(t0 + 119),
      });
      expect(res.series).toHaveLength(1);
      expect(res.series[0]?.points.map((p) => [Number(p.timestamp), p.value])).toEqual([
        [t0 + 20, 20_000],
        [t0 + 40, 60_000],
        [t0 + 65, 7_000],
      ]);
    });

    it("one bucket over everything is the plain average", async () => {
      const res = await fleet.queryMetrics({
        nodeId: id,
        type: "disk",
        name: "usage_percent",
        labels: { mount: "/" },
        start: BigInt(t0),
        end: BigInt(t0 + 3600),
        stepSeconds: 3600,
      });
      expect(res.series[0]?.points.map((p) => p.value)).toEqual([(10 + 20 + 60 + 7 + 9) / 5]);
    });

    it("refuses bad ranges and unknown nodes with precise codes", async () => {
      const base = { nodeId: id, type: "disk", name: "usage_percent" };
      expect(await codeOf(fleet.queryMetrics({ ...base, name: "" }))).toBe(Code.InvalidArgument);
      expect(await codeOf(fleet.queryMetrics({ ...base, start: 100n, end: 50n }))).toBe(
        Code.InvalidArgument,
      );
      expect(
        await codeOf(fleet.queryMetrics({ ...base, start: 1n, end: 10_000_000n, stepSeconds: 1 })),
      ).toBe(Code.InvalidArgument);
      expect(await codeOf(fleet.queryMetrics({ ...base, nodeId: uniqueNodeId("nobody") }))).toBe(
        Code.NotFound,
      );
    });
  });

  describe("WatchNodes", () => {
    it("streams registered and deleted events live, and resumes after an event id", async () => {
      const id = uniqueNodeId("watched");
      const ctl = new AbortController();
      const seen: NodeEvent[] = [];
      let opened = false;
      const stream = fleet.watchNodes({}, { signal: ctl.signal });
      const reading = (async () => {
        for await (const e of stream) {
          opened = true;
          if (e.nodeId !== id) continue;
          seen.push(e);
          if (e.kind === "deleted") return;
        }
      })();
      // The stream starts at "now": its opening keepalive says it has taken its cursor.
      await waitFor("the stream's opening keepalive", () => opened);
      await register(id, { role: "web" });
      await fleet.deleteNode({ nodeId: id });
      await Promise.race([
        reading,
        new Promise((_, fail) =>
          setTimeout(() => fail(new Error("no events within 10 s")), 10_000),
        ),
      ]);
      ctl.abort();
      expect(seen.map((e) => e.kind)).toEqual(["registered", "deleted"]);
      const [registered, deleted] = seen as [NodeEvent, NodeEvent];
      expect(registered.eventId).toBeGreaterThan(0n);
      expect(deleted.eventId).toBeGreaterThan(registered.eventId);
      expect(deleted.node).toBeUndefined();
      expect(Number(registered.time)).toBeGreaterThan(Date.now() / 1000 - 60);

      // Resuming after the registered event replays exactly what followed it.
      const resumed = new AbortController();
      const replay: NodeEvent[] = [];
      for await (const e of fleet.watchNodes(
        { afterEventId: registered.eventId },
        { signal: resumed.signal, timeoutMs: 10_000 },
      )) {
        if (e.nodeId === id) {
          replay.push(e);
          break;
        }
      }
      resumed.abort();
      expect(replay.map((e) => [e.eventId, e.kind])).toEqual([[deleted.eventId, "deleted"]]);
    });

    it("opens with a keepalive at the resume point and sends one after silence", async () => {
      const quiet = createManager(testManagerConfig(), {
        logger: createLogger("fleet-manager-test", "silent"),
        watchPollIntervalMs: 50,
        watchKeepaliveMs: 300,
      });
      await quiet.start();
      try {
        const id = uniqueNodeId("keepalive");
        await createClient(
          ManagerService,
          createGrpcTransport({ baseUrl: quiet.grpcUrl }),
        ).registerNode({ nodeId: id });
        const ctl = new AbortController();
        // Other test files may write events to a shared database meanwhile: keep them all.
        const got: { kind: string; nodeId: string; eventId: bigint; at: number }[] = [];
        for await (const e of fleetClient(quiet).watchNodes({}, { signal: ctl.signal })) {
          got.push({ kind: e.kind, nodeId: e.nodeId, eventId: e.eventId, at: Date.now() });
          if (e.kind === "keepalive") expect(e.node).toBeUndefined();
          if (got.filter((g) => g.kind === "keepalive").length === 2) break;
        }
        ctl.abort();
        expect(got[0]?.kind).toBe("keepalive");
        // The first points at or past the registration: resuming there misses nothing after it.
        const [{ own }] = rowsOf<{ own: string }>(
          await quiet.database.db.execute(
            sql`select max(id)::text as own from node_events where node_id = ${id}`,
          ),
        ) as [{ own: string }];
        expect(got[0]?.eventId).toBeGreaterThanOrEqual(BigInt(own));
        const last = got.at(-1);
        const before = got.at(-2);
        expect(last?.kind).toBe("keepalive");
        expect(last?.nodeId).toBe("");
        expect(last?.eventId).toBe(
          got.filter((g) => g.kind !== "keepalive").at(-1)?.eventId ?? got[0]?.eventId,
        );
        expect((last?.at ?? 0) - (before?.at ?? 0)).toBeGreaterThanOrEqual(250);
      } finally {
        await quiet.stop();
      }
    });

    it("is served on the gRPC port too, and stop() ends open streams", async () => {
      const other = await startFleetManager();
      const grpc = createClient(FleetService, createGrpcTransport({ baseUrl: other.grpcUrl }));
      const id = uniqueNodeId("grpcwatch");
      let opened = false;
      const first = (async () => {
        for await (const e of grpc.watchNodes({})) {
          opened = true;
          if (e.kind !== "keepalive") return e;
        }
        return undefined;
      })();
      await waitFor("the stream's opening keepalive", () => opened);
      await createClient(
        ManagerService,
        createGrpcTransport({ baseUrl: other.grpcUrl }),
      ).registerNode({
        nodeId: id,
      });
      expect((await first)?.nodeId).toBe(id);

      let n = 0;
      const open = (async () => {
        for await (const _ of grpc.watchNodes({})) n++;
        return n;
      })();
      await waitFor("the second stream's opening keepalive", () => n > 0);
      const started = Date.now();
      await other.stop();
      expect(Date.now() - started).toBeLessThan(5_000);
      await open.catch(() => 0);
    });
  });
});
