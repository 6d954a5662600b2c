import { describe, expect, it } from "vitest";
import type { MetricSample } from "../../src/common/types.js";
import { digestUsage, mergeUsage } from "../../src/manager/db/queries/node-usage.js";

const s = (
  type: string,
  timestamp: number,
  values: Record<string, number>,
  labels: Record<string, string> = {},
): MetricSample => ({ type, timestamp, values, labels });

describe("node usage digest (what ingest writes to node_usage)", () => {
  it("takes the newest cpu/memory, the fullest mount and non-loopback network at their newest time", () => {
    const d = digestUsage("n1", [
      s("cpu", 100, { usage_percent: 10 }),
      s("cpu", 160, { usage_percent: 30 }),
      s("cpu", 130, { usage_percent: 99 }),
      s("memory", 160, { usage_percent: 55 }),
      s("disk", 100, { usage_percent: 99 }, { mount: "/old" }),
      s("disk", 160, { usage_percent: 40 }, { mount: "/" }),
      s("disk", 160, { usage_percent: 70 }, { mount: "/var" }),
      s(
        "network",
        160,
        { rx_bytes_per_second: 100, tx_bytes_per_second: 5 },
        { interface: "eth0" },
      ),
      s("network", 160, { rx_bytes_per_second: 50 }, { interface: "eth1" }),
      s(
        "network",
        160,
        { rx_bytes_per_second: 1e9, tx_bytes_per_second: 1e9 },
        { interface: "lo" },
      ),
      s("network", 100, { rx_bytes_per_second: 7 }, { interface: "eth0" }),
      s("daemon", 170, { spool_bytes: 1 }),
    ]);
    expect(d).toEqual({ n: "n1", at: 160, c: 30, m: 55, d: 70, rx: 150, tx: 5 });
  });

  it("is null without usage values; ignores non-numbers", () => {
    expect(digestUsage("n1", [s("daemon", 1, { spool_bytes: 1 })])).toBeNull();
    expect(digestUsage("n1", [s("cpu", 1, { usage_percent: Number.NaN })])).toBeNull();
  });

  it("merges two requests of one node: the newer values win where present", () => {
    const a = { n: "n", at: 10, c: 1, m: 2, d: null, rx: null, tx: null };
    const b = { n: "n", at: 20, c: null, m: 5, d: 9, rx: null, tx: null };
    expect(mergeUsage(a, b)).toEqual({ n: "n", at: 20, c: 1, m: 5, d: 9, rx: null, tx: null });
    expect(mergeUsage(b, a)).toEqual(mergeUsage(a, b));
  });
});
