import { describe, expect, it } from "vitest";
import type { Node } from "../../src/common/types.js";
import {
  escapeLabelValue,
  promName,
  renderFleetExposition,
} from "../../src/manager/http/exposition.js";

// Only the columns the exposition reads; newer columns do not matter here.
const node = (nodeId: string, status: string, labels: Record<string, string> = {}): Node =>
  ({
    nodeId,
    hostname: `${nodeId}.lan`,
    ip: "10.0.0.1",
    os: "linux",
    arch: "x64",
    labels,
    daemonVersion: "1.0.0",
    agentVersion: "",
    status,
    registeredAt: new Date(1_700_000_000_000),
    lastSeenAt: new Date(1_700_000_060_000),
    statusChangedAt: new Date(1_700_000_000_000),
    clockSkewSeconds: 0,
  }) as Node;

describe("Prometheus names and escaping", () => {
  it("turns any text into a valid snake_case name", () => {
    expect(promName("usage_percent")).toBe("usage_percent");
    expect(promName("rxBytes")).toBe("rx_bytes");
    expect(promName("kubernetes.io/role")).toBe("kubernetes_io_role");
    expect(promName("9lives")).toBe("_9lives");
    expect(promName("--")).toBe("x");
  });

  it("escapes backslash, quote and newline in label values", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });
});

describe("renderFleetExposition", () => {
  const text = renderFleetExposition(
    [node("a", "online", { "team.name": "x" }), node("b", "offline")],
    [
      {
        nodeId: "a",
        type: "network",
        labels: { interface: "eth0", node_id: "shadow" },
        ts: 1_700_000_000,
        values: { rx_bytes: 10, rx_bytes_per_second: 2.5, odd_total: 1 },
      },
    ],
  );

  it("reports up, info, counts and last seen per node", () => {
    expect(text).toContain('fleet_node_up{node_id="a"} 1\n');
    expect(text).toContain('fleet_node_up{node_id="b"} 0\n');
    expect(text).toContain('fleet_nodes{status="offline"} 1\n');
    expect(text).toContain('fleet_node_last_seen_timestamp_seconds{node_id="a"} 1700000060\n');
    expect(text).toMatch(
      /fleet_node_info\{node_id="a",hostname="a\.lan",.*label_team_name="x"\} 1/,
    );
  });

  it("keeps node_id authoritative and names counters and gauges by the rules", () => {
    expect(text).toContain(
      'fleet_network_rx_bytes_total{node_id="a",interface="eth0",exported_node_id="shadow"} 10\n',
    );
    expect(text).toContain("# TYPE fleet_network_rx_bytes_total counter\n");
    // A gauge may not end in _total.
    expect(text).toContain("# TYPE fleet_network_odd gauge\n");
  });

  it("groups each family under one HELP and TYPE, families sorted", () => {
    const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    expect(new Set(types).size).toBe(types.length);
    expect(types).toEqual([...types].sort());
    expect(text.endsWith("\n")).toBe(true);
  });
});

describe("label keys that map to one Prometheus name", () => {
  it("keeps one of them, so the scrape stays valid", () => {
    const text = renderFleetExposition(
      [node("c", "online", { aB: "1", a_b: "2", "a.b": "3" })],
      [],
    );
    const info = text.split("\n").find((l) => l.startsWith("fleet_node_info{")) ?? "";
    expect(info.match(/label_a_b=/g)).toHaveLength(1);
    expect(info).toMatch(/label_a_b="[123]"/);
  });
});
