import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetService, type Node } from "../../gen/fleet/v1/fleet_pb.js";
import { ManagerService, type MetricData } from "../../gen/manager/manager_pb.js";
import type { Manager } from "../../src/manager/server.js";
import { fleetClient, startFleetManager } from "../helpers/fleet-seed.js";
import { uniqueNodeId } from "../helpers/manager.js";
import { codeOf } from "../helpers/rpc.js";

type MetricInit = Pick<MetricData, "type" | "values"> & {
  timestamp: bigint;
  labels?: Record<string, string>;
};

describe("the fleet at a glance: usage, order_by, fleet metrics, event history", () => {
  let manager: Manager;
  let fleet: ReturnType<typeof fleetClient>;
  let grpcFleet: ReturnType<typeof createClient<typeof FleetService>>;
  let daemon: ReturnType<typeof createClient<typeof ManagerService>>;
  const tag = uniqueNodeId("glance");
  const now = Math.floor(Date.now() / 1000);
  // cpu with ties (50 three times), two nodes without any usage.
  const cpu: Record<string, number | undefined> = {
    a: 50,
    b: 20,
    c: 50,
    d: 80,
    e: 50,
    f: undefined,
    g: undefined,
  };
  const id = (k: string) => `${tag}-${k}`;

  beforeAll(async () => {
    manager = await startFleetManager();
    fleet = fleetClient(manager);
    grpcFleet = createClient(FleetService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    for (const [k, v] of Object.entries(cpu)) {
      await daemon.registerNode({ nodeId: id(k), hostname: k, labels: { tag, env: "prod" } });
      if (v === undefined) continue;
      const metrics: MetricInit[] = [
        // An older sample in the same request: the newest one counts.
        { type: "cpu", timestamp: BigInt(now - 120), values: { usage_percent: 99 } },
        { type: "cpu", timestamp: BigInt(now - 60), values: { usage_percent: v } },
        { type: "memory", timestamp: BigInt(now - 60), values: { usage_percent: v / 2 } },
        ...["/", "/var"].map((mount, i) => ({
          type: "disk",
          timestamp: BigInt(now - 60),
          labels: { mount },
          values: { usage_percent: 10 + i * v * 0.5 },
        })),
        ...["eth0", "eth1", "lo"].map((iface) => ({
          type: "network",
          timestamp: BigInt(now - 60),
          labels: { interface: iface },
          values: { rx_bytes_per_second: v * 1000, tx_bytes_per_second: 7 },
        })),
      ];
      await daemon.reportMetrics({ nodeId: id(k), metrics });
    }
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("Node.usage carries the newest cpu, memory, fullest disk and non-loopback network", async () => {
    const { node } = await fleet.getNode({ nodeId: id("d") });
    expect(node?.usage).toMatchObject({
      cpuPercent: 80,
      memoryPercent: 40,
      diskPercent: 50,
      networkRxBytesPerSecond: 160_000,
      networkTxBytesPerSecond: 14,
      sampledAt: BigInt(now - 60),
    });
    const { node: quiet } = await fleet.getNode({ nodeId: id("f") });
    expect(quiet?.usage).toBeUndefined();
    expect(quiet?.offlineSince).toBe(0n);
    expect(quiet?.flapping).toBe(false);
  });

  it("a replay of older samples does not overwrite newer usage; partial reports merge", async () => {
    const nodeId = id("a");
    await daemon.reportMetrics({
      nodeId,
      metrics: [{ type: "cpu", timestamp: BigInt(now - 600), values: { usage_percent: 1 } }],
    });
    expect((await fleet.getNode({ nodeId })).node?.usage?.cpuPercent).toBe(50);
    // A newer report with memory only keeps the cpu value it had.
    await daemon.reportMetrics({
      nodeId,
      metrics: [{ type: "memory", timestamp: BigInt(now - 30), values: { usage_percent: 33 } }],
    });
    const u = (await fleet.getNode({ nodeId })).node?.usage;
    expect(u).toMatchObject({ cpuPercent: 50, memoryPercent: 33, sampledAt: BigInt(now - 30) });
  });

  /** Every page of a listing at page size 2, as node-id suffixes. */
  const pages = async (
    client: typeof fleet | typeof grpcFleet,
    orderBy: string,
    descending: boolean,
  ) => {
    const out: string[] = [];
    let pageToken = "";
    for (let i = 0; i < 10; i++) {
      const res = await client.listNodes({
        selector: `tag=${tag}`,
        orderBy,
        descending,
        pageSize: 2,
        pageToken,
      });
      expect(res.total).toBe(7n);
      out.push(...res.nodes.map((n: Node) => n.nodeId.slice(tag.length + 1)));
      pageToken = res.nextPageToken;
      if (!pageToken) break;
    }
    return out;
  };

  it("order_by cpu pages across ties in both directions, ties by node_id ascending", async () => {
    // Hand-sorted: no data (-1) lowest; 50 × 3 tie (a, c, e) in node_id order either way.
    expect(await pages(fleet, "cpu", false)).toEqual(["f", "g", "b", "a", "c", "e", "d"]);
    expect(await pages(fleet, "cpu", true)).toEqual(["d", "a", "c", "e", "b", "f", "g"]);
    // The same on the gRPC port.
    expect(await pages(grpcFleet, "cpu", true)).toEqual(["d", "a", "c", "e", "b", "f", "g"]);
  });

  it("order_by memory, disk, network, last_seen and node_id", async () => {
    // memory: a was overwritten to 33 above; others v/2 (b 10, c 25, e 25, d 40).
    expect(await pages(fleet, "memory", true)).toEqual(["d", "a", "c", "e", "b", "f", "g"]);
    expect(await pages(fleet, "disk", false)).toEqual(["f", "g", "b", "a", "c", "e", "d"]);
    expect(await pages(fleet, "network", true)).toEqual(["d", "a", "c", "e", "b", "f", "g"]);
    expect(await pages(fleet, "node_id", true)).toEqual(["g", "f", "e", "d", "c", "b", "a"]);
    // last_seen: give the nodes distinct and tied values (after the pending
    // heartbeat flush, which would overwrite them), then check the keyset.
    await manager.runtime.heartbeats.flush();
    await manager.database.db.execute(sql`
      update nodes set last_seen_at = to_timestamp(${now}) - make_interval(secs =>
        case right(node_id, 1) when 'a' then 5 when 'b' then 5 when 'c' then 1 else 3 end)
       where labels ->> 'tag' = ${tag}`);
    expect(await pages(fleet, "last_seen", false)).toEqual(["a", "b", "d", "e", "f", "g", "c"]);
    expect(await pages(fleet, "last_seen", true)).toEqual(["c", "d", "e", "f", "g", "a", "b"]);
  });

  it("rejects an unknown order_by and a token from another order, naming the field", async () => {
    const err = await fleet.listNodes({ orderBy: "ram" }).catch((e) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).message).toContain("order_by");
    const first = await fleet.listNodes({ selector: `tag=${tag}`, orderBy: "cpu", pageSize: 2 });
    expect(await codeOf(fleet.listNodes({ orderBy: "disk", pageToken: first.nextPageToken }))).toBe(
      Code.InvalidArgument,
    );
    expect(
      await codeOf(
        fleet.listNodes({
          orderBy: "cpu",
          pageToken: Buffer.from('{"o":"cpu","d":false,"key":"1;drop","nodeId":"x"}').toString(
            "base64url",
          ),
        }),
      ),
    ).toBe(Code.InvalidArgument);
  });

  it("QueryFleetMetrics matches a hand-computed aggregate", async () => {
    const sel = uniqueNodeId("agg");
    const t0 = Math.floor((now - 3000) / 60) * 60;
    // Bucket t0: p averages 10 and 30 → 20; q 40; r 100; s is env=dev (excluded).
    // Bucket t0+60: p 0; q 50 (only two nodes).
    const points: Record<string, [number, number][]> = {
      p: [
        [t0, 10],
        [t0 + 30, 30],
        [t0 + 60, 0],
      ],
      q: [
        [t0 + 5, 40],
        [t0 + 61, 50],
      ],
      r: [[t0 + 59, 100]],
      s: [[t0, 1000]],
    };
    for (const [k, pts] of Object.entries(points)) {
      await daemon.registerNode({
        nodeId: `${sel}-${k}`,
        labels: { sel, env: k === "s" ? "dev" : "prod" },
      });
      await daemon.reportMetrics({
        nodeId: `${sel}-${k}`,
        metrics: pts.map(([t, v]) => ({
          type: "cpu",
          timestamp: BigInt(t),
          values: { usage_percent: v },
        })),
      });
    }
    const res = await fleet.queryFleetMetrics({
      selector: `sel=${sel},env=prod`,
      type: "cpu",
      name: "usage_percent",
      start: BigInt(t0),
      end: BigInt(t0 + 120),
      stepSeconds: 60,
      aggregates: ["avg", "min", "max", "p50", "p90", "p99", "count"],
    });
    expect(res.stepSeconds).toBe(60);
    const got = Object.fromEntries(
      res.series.map((s) => [s.aggregate, s.points.map((p) => [Number(p.timestamp), p.value])]),
    );
    // Bucket 1 values {20, 40, 100}: p90 = 40 + 0.8·60 = 88, p99 = 40 + 0.98·60 = 98.8.
    // Bucket 2 values {0, 50}: p50 = 25, p90 = 45, p99 = 49.5.
    expect(got).toEqual({
      avg: [
        [t0, 160 / 3],
        [t0 + 60, 25],
      ],
      min: [
        [t0, 20],
        [t0 + 60, 0],
      ],
      max: [
        [t0, 100],
        [t0 + 60, 50],
      ],
      p50: [
        [t0, 40],
        [t0 + 60, 25],
      ],
      p90: [
        [t0, expect.closeTo(88, 9)],
        [t0 + 60, 45],
      ],
      p99: [
        [t0, expect.closeTo(98.8, 9)],
        [t0 + 60, expect.closeTo(49.5, 9)],
      ],
      count: [
        [t0, 3],
        [t0 + 60, 2],
      ],
    });
    expect(
      await codeOf(fleet.queryFleetMetrics({ type: "cpu", name: "x", aggregates: ["p95"] })),
    ).toBe(Code.InvalidArgument);
    expect(await codeOf(fleet.queryFleetMetrics({ type: "", name: "x" }))).toBe(
      Code.InvalidArgument,
    );
  });

  it("ListNodeEvents pages newest first, per node and fleet-wide", async () => {
    const nodeId = id("events");
    await daemon.registerNode({ nodeId, labels: { tag: `${tag}-ev` } });
    await manager.database.db.execute(sql`
      insert into node_events (node_id, kind, reason)
      values (${nodeId}, 'offline', 'no heartbeat for 180s'), (${nodeId}, 'online', 'heartbeat'),
             (${nodeId}, 'offline', 'no heartbeat for 180s'), (${nodeId}, 'online', 'heartbeat')`);
    const seen: { kind: string; id: bigint; reason: string }[] = [];
    let pageToken = "";
    for (let i = 0; i < 5; i++) {
      const res = await fleet.listNodeEvents({ nodeId, pageSize: 2, pageToken });
      expect(res.events.length).toBeLessThanOrEqual(2);
      for (const e of res.events) {
        expect(e.nodeId).toBe(nodeId);
        seen.push({ kind: e.kind, id: e.eventId, reason: e.reason });
      }
      pageToken = res.nextPageToken;
      if (!pageToken) break;
    }
    expect(seen.map((e) => e.kind)).toEqual([
      "online",
      "offline",
      "online",
      "offline",
      "registered",
    ]);
    expect(seen[1]?.reason).toBe("no heartbeat for 180s");
    for (let i = 1; i < seen.length; i++)
      expect((seen[i] as { id: bigint }).id < (seen[i - 1] as { id: bigint }).id).toBe(true);
    // Fleet-wide: the newest events of all nodes, this node's newest among them.
    const all = await grpcFleet.listNodeEvents({ pageSize: 3 });
    expect(all.events).toHaveLength(3);
    expect(all.events[0]?.eventId).toBeGreaterThanOrEqual(seen[0]?.id ?? 0n);
    const next = await grpcFleet.listNodeEvents({ pageSize: 3, pageToken: all.nextPageToken });
    expect(next.events[0]?.eventId).toBeLessThan(all.events[2]?.eventId ?? 0n);
    expect(await codeOf(fleet.listNodeEvents({ pageToken: "bm9wZQ" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(fleet.listNodeEvents({ pageSize: 5000 }))).toBe(Code.InvalidArgument);
  });

  it("an offline node says since when; QueryMetrics names the node's types when none match", async () => {
    const nodeId = id("b");
    await manager.database.db.execute(sql`
      update nodes set status = 'offline', status_changed_at = to_timestamp(${now - 42})
       where node_id = ${nodeId}`);
    expect((await fleet.getNode({ nodeId })).node?.offlineSince).toBe(BigInt(now - 42));
    const res = await fleet.queryMetrics({ nodeId, type: "cpux", name: "usage_percent" });
    expect(res.series).toEqual([]);
    expect(res.nodeTypes).toEqual(["cpu", "disk", "memory", "network"]);
  });
});
