import { AggregatorRegistry, Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createRpcMetrics } from "../../src/manager/rpc-metrics.js";

const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The same observations through prom-client's own Counter + Histogram and through rpc-metrics. */
function both() {
  const reference = new Registry();
  const counter = new Counter({
    name: "fleet_rpc_requests_total",
    help: "RPCs handled, by method and status code",
    labelNames: ["method", "code"],
    registers: [reference],
  });
  const histogram = new Histogram({
    name: "fleet_rpc_duration_seconds",
    help: "RPC latency, by method and status code",
    labelNames: ["method", "code"],
    buckets: BOUNDS,
    registers: [reference],
  });
  const ours = new Registry();
  const rpc = createRpcMetrics(ours, BOUNDS);
  const values = [0, 1e-9, 0.001, 0.0011, 0.02, 0.3, 5, 7];
  const series: [string, string][] = [
    ["manager.ManagerService/Heartbeat", "OK"],
    ["manager.ManagerService/Heartbeat", "NotFound"],
    ['x.Y/Quote"d\\', "OK"],
  ];
  for (const [method, code] of series) {
    for (const v of values) {
      counter.inc({ method, code });
      histogram.observe({ method, code }, v);
      rpc.series(method, code).observe(v);
    }
  }
  return { reference, ours };
}

describe("rpc metrics", () => {
  it("render exactly as prom-client's Counter and Histogram", async () => {
    const { reference, ours } = both();
    expect(await ours.metrics()).toBe(await reference.metrics());
  });

  it("aggregate across workers as prom-client's do (--workers)", async () => {
    const { reference, ours } = both();
    const agg = async (r: Registry) =>
      AggregatorRegistry.aggregate([
        await r.getMetricsAsJSON(),
        await r.getMetricsAsJSON(),
      ]).metrics();
    expect(await agg(ours)).toBe(await agg(reference));
  });

  it("reset like prom-client (resetMetrics)", async () => {
    const { reference, ours } = both();
    reference.resetMetrics();
    ours.resetMetrics();
    // prom-client drops its series on reset; ours keep theirs at zero.
    expect(await ours.metrics()).toMatch(/fleet_rpc_requests_total\{[^}]*\} 0/);
    expect(await ours.metrics()).not.toMatch(/\} [1-9]/);
  });
});
