import type { ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import type { Manager } from "../../src/manager/server.js";
import { startFleetManager } from "../helpers/fleet-seed.js";
import { runFleetctl, spawnFleetctl } from "../helpers/fleetctl-process.js";
import { uniqueNodeId } from "../helpers/manager.js";

// Each case starts node + tsx processes: slow on a busy machine, so a longer timeout.
describe("fleetctl against a running manager", { timeout: 180_000 }, () => {
  let manager: Manager;
  let server: string[];
  const tag = uniqueNodeId("ctl");
  const web = `${tag}-web`;
  const db = `${tag}-db`;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    manager = await startFleetManager();
    server = ["--server", manager.httpUrl];
    const daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    for (const [nodeId, role] of [
      [web, "web"],
      [db, "db"],
    ] as const) {
      await daemon.registerNode({
        nodeId,
        hostname: `${role}-host`,
        ip: "10.9.8.7",
        os: "linux",
        arch: "x64",
        labels: { tag, role },
        daemonVersion: "3.1.4",
      });
    }
    await daemon.reportMetrics({
      nodeId: web,
      metrics: [10, 20, 30, 40].map((v, i) => ({
        type: "cpu",
        timestamp: BigInt(now - 240 + i * 60),
        values: { usage_percent: v },
      })),
    });
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("nodes: an aligned table, filtered by selector", async () => {
    const r = await runFleetctl([...server, "nodes", "--selector", `tag=${tag}`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^NODE\s+STATUS\s+HOSTNAME\s+IP\s+OS\/ARCH\s+VERSION\s+LAST SEEN\s+LABELS$/,
    );
    // Every column starts at the same offset on every line.
    const col = (line: string | undefined, text: string) => line?.indexOf(text) ?? -1;
    expect(col(lines[1], "online")).toBe(col(lines[0], "STATUS"));
    expect(col(lines[2], "online")).toBe(col(lines[0], "STATUS"));
    expect(col(lines[1], "3.1.4")).toBe(col(lines[0], "VERSION"));
    expect(lines[1]).toContain(db);
    expect(lines[2]).toContain(web);
    expect(lines[2]).toContain(`role=web,tag=${tag}`);

    const only = await runFleetctl([
      ...server,
      "nodes",
      "--status",
      "online",
      "--selector",
      `tag=${tag},role!=db`,
      "--json",
    ]);
    expect(only.code).toBe(0);
    const doc = JSON.parse(only.stdout) as {
      nodes: { nodeId: string; status: string }[];
      total: string;
    };
    expect(doc.total).toBe("1");
    expect(doc.nodes.map((n) => n.nodeId)).toEqual([web]);
  });

  it("node: details, --json, and exit code 3 when unknown", async () => {
    const r = await runFleetctl([...server, "node", web]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^hostname\s+web-host$/m);
    expect(r.stdout).toMatch(/^labels\s+role=web,tag=/m);
    const j = await runFleetctl([...server, "--json", "node", web]);
    expect(JSON.parse(j.stdout)).toMatchObject({
      nodeId: web,
      daemonVersion: "3.1.4",
      status: "online",
    });
    const missing = await runFleetctl([...server, "node", `${tag}-nobody`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("not registered");
  });

  it("metrics: sparkline summary, raw table, and JSON points", async () => {
    const r = await runFleetctl([
      ...server,
      "metrics",
      web,
      "--type",
      "cpu",
      "--name",
      "usage_percent",
      "--since",
      "1h",
      "--step",
      "0",
    ]);
    expect(r.code).toBe(0);
    const [header, row] = r.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^SERIES\s+MIN\s+AVG\s+MAX\s+LAST\s+usage_percent/);
    expect(row).toMatch(/^-\s+10%\s+25%\s+40%\s+40%\s+▁[▁-█]{2}█$/);

    const t = await runFleetctl([
      ...server,
      "metrics",
      web,
      "--since",
      "1h",
      "--step",
      "0",
      "--table",
    ]);
    expect(t.stdout.trimEnd().split("\n")).toHaveLength(5);

    const j = await runFleetctl([
      ...server,
      "--json",
      "metrics",
      web,
      "--since",
      "10m",
      "--step",
      "0",
    ]);
    const doc = JSON.parse(j.stdout) as {
      series: { points: { timestamp: string; value: number }[] }[];
    };
    expect(doc.series[0]?.points.map((p) => p.value)).toEqual([10, 20, 30, 40]);
  });

  it("watch: prints events as JSON lines until interrupted, then exits 0", async () => {
    const child: ChildProcess = spawnFleetctl([...server, "--json", "watch"]);
    try {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      const first = new Promise<string>((resolve) => lines.once("line", resolve));
      const victim = `${tag}-victim`;
      const daemon = createClient(
        ManagerService,
        createGrpcTransport({ baseUrl: manager.grpcUrl }),
      );
      // Register until the watcher (which starts at "now") has seen one; bounded.
      let line: string | undefined;
      for (let i = 0; i < 40 && !line; i++) {
        await daemon.registerNode({ nodeId: victim });
        line = await Promise.race([
          first,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 500)),
        ]);
      }
      expect(line).toBeDefined();
      expect(JSON.parse(line as string)).toMatchObject({ nodeId: victim, kind: "registered" });
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("delete: removes the node, then it is not found", async () => {
    const r = await runFleetctl([...server, "delete", db]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`deleted ${db}`);
    expect((await runFleetctl([...server, "node", db])).code).toBe(3);
    expect((await runFleetctl([...server, "delete", db])).code).toBe(3);
  });

  it("exit codes: 2 for usage, 5 when the manager is unreachable, 6 for a bad argument", async () => {
    const runs = await Promise.all([
      runFleetctl(["frobnicate"]),
      runFleetctl([...server, "node"]),
      runFleetctl([...server, "nodes", "--bogus"]),
      runFleetctl([...server, "metrics", web, "--since", "soon"]),
      runFleetctl(["--server", "http://127.0.0.1:1", "nodes"]),
      runFleetctl([...server, "nodes", "--status", "sleepy"]),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 5, 6]);
  });

  it("sends --token as a bearer token and exits 4 when it is refused", async () => {
    let seen: string | undefined;
    const fake = http.createServer((req, res) => {
      seen = req.headers.authorization;
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "unauthenticated", message: "bad token" }));
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
      const r = await runFleetctl(["--server", url, "--token", "s3cret", "nodes"]);
      expect(seen).toBe("Bearer s3cret");
      expect(r.code).toBe(4);
      const fromEnv = await runFleetctl(["nodes"], {
        FLEET_SERVER: url,
        FLEET_API_TOKEN: "envtok",
      });
      expect(seen).toBe("Bearer envtok");
      expect(fromEnv.code).toBe(4);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });
});
