import { createInterface } from "node:readline";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService, type MetricDataSchema } from "../../gen/manager/manager_pb.js";
import type { Manager } from "../../src/manager/server.js";
import { startFleetManager } from "../helpers/fleet-seed.js";
import { runFleetctl, spawnFleetctl } from "../helpers/fleetctl-process.js";
import { uniqueNodeId } from "../helpers/manager.js";

describe("fleetctl top, sort, events, units", { timeout: 180_000 }, () => {
  let manager: Manager;
  let server: string[];
  const tag = uniqueNodeId("ctltop");
  const id = (k: string) => `${tag}-${k}`;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    manager = await startFleetManager();
    server = ["--server", manager.httpUrl];
    const daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    for (const [k, cpu] of [
      ["a", 15],
      ["b", 85],
      ["c", 50],
    ] as const) {
      await daemon.registerNode({ nodeId: id(k), labels: { tag } });
      // 200 minutes of points: more than a 100-column terminal can show one per column.
      await daemon.reportMetrics({
        nodeId: id(k),
        metrics: Array.from(
          { length: 200 },
          (_, i): MessageInitShape<typeof MetricDataSchema>[] => [
            {
              type: "cpu",
              timestamp: BigInt(now - 12_000 + i * 60),
              values: { usage_percent: cpu + (i % 5) },
            },
            {
              type: "memory",
              timestamp: BigInt(now - 12_000 + i * 60),
              values: { usage_percent: 40, used_bytes: 1_572_996_437.33 },
            },
            {
              type: "network",
              timestamp: BigInt(now - 12_000 + i * 60),
              labels: { interface: "ifb0" },
              values: { rx_bytes_per_second: 0 },
            },
          ],
        ).flat(),
      });
    }
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("top: usage columns, highest CPU first, filtered by selector", async () => {
    const r = await runFleetctl([...server, "top", "--selector", `tag=${tag}`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NODE\s+STATUS\s+CPU\s+MEMORY\s+DISK\s+NET RX\s+NET TX\s+SAMPLED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([id("b"), id("c"), id("a")]);
    // The newest cpu point is i = 199: 85 + 4.
    expect(lines[1]).toMatch(/\s89\.0%\s+40\.0%\s+-\s+0 B\/s\s+0 B\/s\s/);
    const asc = await runFleetctl([
      ...server,
      "nodes",
      "--selector",
      `tag=${tag}`,
      "--sort",
      "cpu:asc",
    ]);
    expect(asc.code).toBe(0);
    expect(
      asc.stdout
        .trimEnd()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual([id("a"), id("c"), id("b")]);
    const bad = await runFleetctl([...server, "top", "--sort", "ram"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--sort: expected one of");
  });

  it("metrics: units, a sparkline that fits 100 columns, all-zero at the bottom", async () => {
    const r = await runFleetctl(
      [
        ...server,
        "metrics",
        id("a"),
        "--type",
        "memory",
        "--name",
        "used_bytes",
        "--since",
        "4h",
        "--step",
        "60s",
      ],
      { COLUMNS: "100" },
    );
    expect(r.code).toBe(0);
    for (const line of r.stdout.trimEnd().split("\n"))
      expect([...line].length).toBeLessThanOrEqual(100);
    expect(r.stdout).toContain("1.46 GiB");
    const zero = await runFleetctl(
      [
        ...server,
        "metrics",
        id("a"),
        "--type",
        "network",
        "--name",
        "rx_bytes_per_second",
        "--since",
        "1h",
      ],
      { COLUMNS: "100" },
    );
    expect(zero.code).toBe(0);
    expect(zero.stdout).toContain("0 B/s");
    expect(zero.stdout).toMatch(/▁{10,}$/m);
    expect(zero.stdout).not.toMatch(/▄/);
  });

  it("metrics: an unknown --type lists the node's types and exits 6", async () => {
    const r = await runFleetctl([...server, "metrics", id("a"), "--type", "cpux"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`${id("a")} has no "cpux" metrics; it reports cpu, memory, network`);
  });

  it("events: a node's history newest first", async () => {
    const r = await runFleetctl([...server, "events", id("b")]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`#\\d+\\s+registered\\s+${id("b")}$`));
    const j = await runFleetctl([...server, "--json", "events", id("b"), "--limit", "1"]);
    expect(JSON.parse(j.stdout.trim())).toMatchObject({ nodeId: id("b"), kind: "registered" });
  });

  it("watch: says it is watching on stderr at once, stdout stays clean", async () => {
    const child = spawnFleetctl([...server, "--json", "watch"]);
    try {
      const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
      const first = await new Promise<string>((resolve) => lines.once("line", resolve));
      expect(first).toBe("watching node events; Ctrl-C to stop");
      const out: string[] = [];
      child.stdout?.on("data", (d) => out.push(String(d)));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(out.join("")).toBe("");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
