import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createManagerClient, type ManagerClient } from "../../src/daemon/transport/client.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import type { Manager } from "../../src/manager/server.js";
import { createAdmission, hashFraction } from "../../src/manager/services/admission.js";
import { createFakeClock } from "../helpers/fake-clock.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";
import { errorOf } from "../helpers/rpc.js";
import { waitFor } from "../helpers/wait.js";

describe("per-node rate limits and load shedding", () => {
  let manager: Manager;
  let client: ManagerClient;
  // The buckets' clock: time moves only when a test says so, so refills cost no real seconds.
  const clock = createFakeClock(Date.now());

  beforeAll(async () => {
    manager = await startTestManager(
      {
        admission: {
          ...MANAGER_DEFAULTS.admission,
          heartbeatsPerSecond: 2,
          heartbeatBurst: 3,
          reportsPerSecond: 1,
          reportBurst: 2,
          maxInFlight: 2,
          pushbackMinMs: 100,
          pushbackSpreadMs: 1_000,
        },
        // The first ReportMetrics of a batch waits this long, which keeps calls in flight.
        ingest: { ...MANAGER_DEFAULTS.ingest, batchWindowMs: 800 },
      },
      { rateLimitClock: () => clock.mono },
    );
    client = createManagerClient({ address: manager.grpcUrl, timeoutMs: 10_000, retry: false });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("heartbeats beyond the bucket are RESOURCE_EXHAUSTED with a pushback, and the node recovers", async () => {
    const nodeId = uniqueNodeId("rate");
    await client.registerNode({ nodeId });
    const ts = () => BigInt(Math.floor(Date.now() / 1000));
    for (let i = 0; i < 3; i++) await client.heartbeat({ nodeId, timestamp: ts() });
    const err = await errorOf(client.heartbeat({ nodeId, timestamp: ts() }));
    expect(err?.code).toBe(Code.ResourceExhausted);
    const pushback = Number(err?.metadata.get("grpc-retry-pushback-ms"));
    // The next token is ≤ 500 ms away at 2/s; the hash spreads it up to twice that.
    expect(pushback).toBeGreaterThan(0);
    expect(pushback).toBeLessThanOrEqual(1_000);
    // Another node is not affected.
    const other = uniqueNodeId("rate-other");
    await client.registerNode({ nodeId: other });
    await client.heartbeat({ nodeId: other, timestamp: ts() });
    // Recovery: after the pushback, the node is served again.
    await clock.advance(pushback, 0);
    expect((await client.heartbeat({ nodeId, timestamp: ts() })).success).toBe(true);
  });

  it("sheds calls beyond the in-flight cap with UNAVAILABLE at once, then serves again", async () => {
    const ids = [uniqueNodeId("shed"), uniqueNodeId("shed"), uniqueNodeId("shed")];
    for (const nodeId of ids) await client.registerNode({ nodeId });
    // Let the registrations' report tokens refill (1/s, burst 2).
    await clock.advance(1_100, 0);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const metrics = [{ type: "cpu", timestamp: now, values: { usage_percent: 1 } }];
    const slow = ids.slice(0, 2).map((nodeId) => client.reportMetrics({ nodeId, metrics }));
    // Both wait in the 800 ms ingest window: the cap of 2 is reached once they are in.
    await waitFor("both slow calls in flight", () => manager.runtime.admission.inFlight === 2);
    const started = Date.now();
    const err = await errorOf(client.reportMetrics({ nodeId: ids[2] as string, metrics: [] }));
    expect(err?.code).toBe(Code.Unavailable);
    expect(Date.now() - started).toBeLessThan(500);
    const pushback = Number(err?.metadata.get("grpc-retry-pushback-ms"));
    expect(pushback).toBeGreaterThanOrEqual(100);
    expect(pushback).toBeLessThanOrEqual(1_100);
    await Promise.all(slow);
    await clock.advance(1_000, 0);
    expect((await client.reportMetrics({ nodeId: ids[2] as string, metrics: [] })).success).toBe(
      true,
    );
  });

  it("spreads pushback by a hash of the node id: stable per node, spread over the window", () => {
    const a = createAdmission({
      ...MANAGER_DEFAULTS.admission,
      pushbackMinMs: 1_000,
      pushbackSpreadMs: 10_000,
    });
    const delays = Array.from({ length: 1_000 }, (_, i) => a.pushbackMs(`node-${i}`));
    expect(a.pushbackMs("node-7")).toBe(delays[7]);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(11_000);
    // Roughly uniform: every second of the 10 s window gets some of the fleet.
    const perSecond = new Array(10).fill(0) as number[];
    for (const d of delays) {
      const i = Math.min(9, Math.floor((d - 1_000) / 1_000));
      perSecond[i] = (perSecond[i] ?? 0) + 1;
    }
    for (const n of perSecond) expect(n).toBeGreaterThan(50);
    expect(hashFraction("x")).toBeLessThan(1);
  });

  it("keeps a bounded number of buckets whatever node ids clients send", () => {
    const a = createAdmission({ ...MANAGER_DEFAULTS.admission, trackedNodesMax: 100 });
    for (let i = 0; i < 10_000; i++) a.take("heartbeat", `n-${i}`);
    // The eviction leaves room; a fresh node is served from a full bucket.
    expect(() => a.take("heartbeat", "fresh")).not.toThrow();
  });
});
