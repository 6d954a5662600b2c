import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { createDashboardHandler } from "../../src/manager/http/dashboard.js";
import type { Manager } from "../../src/manager/server.js";
import { startFleetManager } from "../helpers/fleet-seed.js";
import { ownTestDatabase, uniqueNodeId } from "../helpers/manager.js";
import { waitFor } from "../helpers/wait.js";

const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));

describe("/metrics/fleet: Prometheus exposition of every node's latest values", () => {
  let manager: Manager;
  let dropDatabase: () => Promise<void> = async () => {};
  let text = "";
  const a = uniqueNodeId("prom");
  const b = uniqueNodeId("prom");

  beforeAll(async () => {
    // Its own database: the exposition lists every node's series, and other files
    // (the hostile-input suite's random value names) must not decide what promtool sees.
    const own = await ownTestDatabase();
    dropDatabase = own.drop;
    manager = await startFleetManager(own.config);
    const daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    await daemon.registerNode({
      nodeId: a,
      hostname: "a.example",
      os: "linux",
      arch: "x64",
      daemonVersion: "1.0.0",
      labels: { env: "prod", k8s_role: 'we"ird\\value' },
    });
    await daemon.registerNode({ nodeId: b, hostname: "b.example", os: "linux" });
    const now = Math.floor(Date.now() / 1000);
    await daemon.reportMetrics({
      nodeId: a,
      metrics: [
        { type: "cpu", timestamp: BigInt(now - 60), values: { usage_percent: 99 } },
        { type: "cpu", timestamp: BigInt(now), values: { usage_percent: 12.5, load1: 0.25 } },
        {
          type: "disk",
          timestamp: BigInt(now),
          labels: { mount: "/", device: "/dev/sda1" },
          values: { used_bytes: 1e9, total_bytes: 4e9, usage_percent: 25 },
        },
        {
          type: "disk",
          timestamp: BigInt(now),
          labels: { mount: "/var", device: "/dev/sdb1" },
          values: { used_bytes: 2e9, total_bytes: 4e9, usage_percent: 50 },
        },
        {
          type: "network",
          timestamp: BigInt(now),
          labels: { interface: "eth0" },
          values: { rx_bytes: 123456, rx_bytes_per_second: 1000 },
        },
        {
          type: "daemon",
          timestamp: BigInt(now),
          values: { retries: 3, batches_dropped: 0, spool_bytes: 4096 },
        },
      ],
    });
    const res = await fetch(`${manager.httpUrl}/metrics/fleet`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    text = await res.text();
  });
  afterAll(async () => {
    await manager?.stop();
    await dropDatabase();
  });

  it("has node liveness, info and the newest value of every series", () => {
    expect(text).toContain(`fleet_node_up{node_id="${a}"} 1\n`);
    expect(text).toContain(`fleet_node_up{node_id="${b}"} 1\n`);
    // The newest cpu row wins over the older 99.
    expect(text).toContain(`fleet_cpu_usage_percent{node_id="${a}"} 12.5\n`);
    expect(text).toContain(`fleet_cpu_load1{node_id="${a}"} 0.25\n`);
    expect(text).toContain(
      `fleet_disk_used_bytes{node_id="${a}",device="/dev/sdb1",mount="/var"} 2000000000\n`,
    );
    expect(text).toContain(
      `fleet_network_rx_bytes_total{node_id="${a}",interface="eth0"} 123456\n`,
    );
    expect(text).toContain("# TYPE fleet_network_rx_bytes_total counter\n");
    // The daemon's own cumulative counts are counters too; its spool size is a gauge.
    expect(text).toContain(`fleet_daemon_retries_total{node_id="${a}"} 3\n`);
    expect(text).toContain("# TYPE fleet_daemon_batches_dropped_total counter\n");
    expect(text).toContain("# TYPE fleet_daemon_spool_bytes gauge\n");
    expect(text).toMatch(
      new RegExp(`fleet_node_info\\{node_id="${a}",.*label_k8s_role="we\\\\"ird\\\\\\\\value"`),
    );
    // One HELP and TYPE per family.
    expect(text.match(/^# TYPE fleet_node_up gauge$/gm)).toHaveLength(1);
  });

  it("passes `promtool check metrics`", (ctx) => {
    if (!PROMTOOL) {
      ctx.skip("promtool not installed (Debian: apt-get install prometheus); CI installs it");
      return;
    }
    const run = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(run.stderr + run.stdout).toBe("");
    expect(run.status).toBe(0);
  });
});

describe("dashboard files", () => {
  let dir: string;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleet-web-"));
    const handler = createDashboardHandler(join(dir, "web"));
    server = http.createServer((req, res) => {
      handler(req, res).then(
        (served) => {
          if (!served) res.writeHead(404).end("not found\n");
        },
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(join(dir, "secret.txt"), "do not serve");
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("says to run npm run build when the dashboard is not built", async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("npm run build");
  });

  it("serves built files with content types, cache headers and ETags", async () => {
    mkdirSync(join(dir, "web/assets"), { recursive: true });
    writeFileSync(join(dir, "web/index.html"), "<!doctype html><title>Fleet</title>");
    writeFileSync(join(dir, "web/assets/app-abc123.js"), "console.log(1)");
    writeFileSync(join(dir, "web/assets/app-abc123.css"), "body{}");

    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    expect(index.headers.get("content-security-policy")).toContain("default-src 'self'");
    const etag = index.headers.get("etag") ?? "";
    expect((await fetch(`${base}/`, { headers: { "if-none-match": etag } })).status).toBe(304);

    const js = await fetch(`${base}/assets/app-abc123.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await js.text()).toBe("console.log(1)");
    const css = await fetch(`${base}/assets/app-abc123.css`, { method: "HEAD" });
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.headers.get("content-length")).toBe("6");
  });

  it("closes the file when a client goes away mid-download", async () => {
    const big = join(dir, "web/assets/big-0000.js");
    writeFileSync(big, Buffer.alloc(32 * 1024 * 1024, 0x20));
    const openOnBig = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === big;
        } catch {
          return false;
        }
      }).length;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/assets/big-0000.js`, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", (err) => (req.destroyed ? undefined : reject(err)));
    });
    await waitFor("the file closed", () => openOnBig() === 0, { timeoutMs: 5_000 });
  });

  it("never serves outside its folder", async () => {
    // Raw requests: fetch would normalise the dots away.
    const raw = (path: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`${base}${path}`, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on("error", reject);
      });
    expect(await raw("/../secret.txt")).toBe(404);
    expect(await raw("/assets/..%2f..%2fsecret.txt")).toBe(404);
    expect(await raw("/%2e%2e/secret.txt")).toBe(404);
    expect(await raw("/assets/%00.js")).toBe(404);
    expect(await raw("/assets/%E0%A4%A")).toBe(404);
    expect(await raw("/assets")).toBe(404);
  });
});

describe("dashboard route on the manager", () => {
  it("serves index.html at / and 404s unknown paths", async () => {
    const manager = await startFleetManager();
    try {
      const root = await fetch(`${manager.httpUrl}/`);
      // Built (CI runs npm run build first) or the clear not-built page.
      expect([200, 503]).toContain(root.status);
      expect(root.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect((await fetch(`${manager.httpUrl}/nope`)).status).toBe(404);
      expect((await fetch(`${manager.httpUrl}/assets/nope.js`)).status).toBe(404);
    } finally {
      await manager.stop();
    }
  });
});
