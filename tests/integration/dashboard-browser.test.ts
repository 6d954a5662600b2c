import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sql } from "drizzle-orm";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService, type MetricDataSchema } from "../../gen/manager/manager_pb.js";
import type { Manager } from "../../src/manager/server.js";
import {
  CHROMIUM,
  ensureDashboardBuilt,
  hasChromium,
  launchBrowser,
  shots,
} from "../helpers/browser.js";
import { startFleetManager } from "../helpers/fleet-seed.js";
import { uniqueNodeId } from "../helpers/manager.js";

if (!hasChromium) {
  console.warn(
    `[dashboard test] skipped: ${CHROMIUM} not found (Debian: apt-get install chromium)`,
  );
}

describe.skipIf(!hasChromium)("dashboard in Chromium", () => {
  let manager: Manager;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const tag = uniqueNodeId("ui");
  const web = `${tag}-web-1`;
  const db = `${tag}-db-1`;
  // CPU points: two per 12 s bucket (the 1 h range's step), so each drawn value is an average.
  const now = Math.floor(Date.now() / 1000);
  const base = Math.floor((now - 1800) / 12) * 12;
  const cpu = Array.from({ length: 20 }, (_, k) => ({
    t: base + k * 60,
    a: 10 + k * 3,
    b: 20 + ((k * 7) % 11),
  }));

  beforeAll(async () => {
    await ensureDashboardBuilt();
    manager = await startFleetManager();
    const daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    for (const [nodeId, role, os] of [
      [web, "web", "linux"],
      [db, "db", "linux"],
      [`${tag}-cache-1`, "cache", "freebsd"],
    ] as const) {
      await daemon.registerNode({
        nodeId,
        hostname: `${role}-1.example.net`,
        ip: `10.0.0.${role.length}`,
        os,
        arch: "x64",
        labels: { tag, role, env: "prod" },
        daemonVersion: "1.4.2",
      });
    }
    const metrics: MessageInitShape<typeof MetricDataSchema>[] = cpu.flatMap(
      (p, k): MessageInitShape<typeof MetricDataSchema>[] => [
        { type: "cpu", timestamp: BigInt(p.t), values: { usage_percent: p.a } },
        { type: "cpu", timestamp: BigInt(p.t + 6), values: { usage_percent: p.b } },
        {
          type: "memory",
          timestamp: BigInt(p.t),
          values: { usage_percent: 40 + 10 * Math.sin(k / 3) },
        },
        ...["/", "/var"].map((mount, i) => ({
          type: "disk",
          timestamp: BigInt(p.t),
          labels: { mount },
          values: { usage_percent: 30 + i * 25 + k * 0.5 },
        })),
        {
          type: "network",
          timestamp: BigInt(p.t),
          labels: { interface: "eth0" },
          values: {
            rx_bytes_per_second: 200_000 + 50_000 * Math.cos(k / 2),
            tx_bytes_per_second: 80_000 + 20_000 * Math.sin(k / 2),
          },
        },
      ],
    );
    await daemon.reportMetrics({ nodeId: web, metrics });

    browser = await launchBrowser();
    page = browser.page;
  });
  afterAll(async () => {
    await browser?.close();
    await manager?.stop();
  });

  it("lists the seeded nodes with status, versions and labels", async () => {
    await page.goto(`${manager.httpUrl}/#/?selector=${encodeURIComponent(`tag=${tag}`)}`);
    const rows = page.locator("#nodes tbody tr[data-node-id]");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3);
    expect(
      await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-node-id"))),
    ).toEqual([`${tag}-cache-1`, db, web]);
    const webRow = page.locator(`tr[data-node-id="${web}"]`);
    expect(await webRow.getAttribute("data-status")).toBe("online");
    const text = await webRow.textContent();
    expect(text).toContain("1.4.2");
    expect(text).toContain("role=web");
    expect(text).toContain("web-1.example.net");
    expect(await page.locator("#table-footer").textContent()).toBe("3 of 3 nodes");
  });

  it("shows status changes and new nodes live, without a reload", async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { __noReload: boolean }).__noReload = true;
    });
    // What the liveness checker does when heartbeats stop: flip the row, record the event.
    await manager.database.db.execute(sql`
      with flip as (update nodes set status = 'offline', status_changed_at = now()
                     where node_id = ${db} returning node_id)
      insert into node_events (node_id, kind, reason)
      select node_id, 'offline', 'no heartbeat for 180s' from flip`);
    await page
      .locator(`tr[data-node-id="${db}"][data-status="offline"]`)
      .waitFor({ timeout: 10_000 });
    // The badge says live once the stream answered (here: its first event), not on request.
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });

    const late = `${tag}-late-1`;
    await createClient(
      ManagerService,
      createGrpcTransport({ baseUrl: manager.grpcUrl }),
    ).registerNode({ nodeId: late, hostname: "late", labels: { tag } });
    await page.locator(`tr[data-node-id="${late}"]`).waitFor({ timeout: 10_000 });
    expect(
      await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload),
    ).toBe(true);
    await page.screenshot({ path: join(shots, "dashboard-overview.png"), fullPage: true });
  });

  it("draws the node's CPU chart from the averaged points", async () => {
    await page.goto(`${manager.httpUrl}/#/node/${encodeURIComponent(web)}?range=1h`);
    await page.locator("#chart-cpu canvas").waitFor({ timeout: 15_000 });
    await expect
      .poll(() => page.locator("#chart-cpu").getAttribute("data-points"), { timeout: 10_000 })
      .toBe(String(cpu.length));
    const drawn = await page.evaluate(
      () =>
        (
          globalThis as unknown as {
            __fleetCharts?: Record<
              string,
              { timestamps: number[]; series: { values: (number | null)[] }[] }
            >;
          }
        ).__fleetCharts?.cpu,
    );
    expect(drawn?.timestamps).toEqual(cpu.map((p) => p.t));
    expect(drawn?.series).toHaveLength(1);
    const values = drawn?.series[0]?.values ?? [];
    cpu.forEach((p, k) => {
      expect(values[k]).toBeCloseTo((p.a + p.b) / 2, 9);
    });
    await expect
      .poll(() => page.locator("#chart-disk").getAttribute("data-series"), { timeout: 10_000 })
      .toBe("2");
    await expect
      .poll(() => page.locator("#chart-network").getAttribute("data-series"), { timeout: 10_000 })
      .toBe("2");
    expect(await page.locator("#node-status").getAttribute("data-status")).toBe("online");

    // A longer range re-queries with a coarser step: fewer, still real points.
    await page.locator('button[data-range="24h"]').click();
    await expect
      .poll(async () => Number(await page.locator("#chart-cpu").getAttribute("data-points")), {
        timeout: 10_000,
      })
      .toBeLessThan(cpu.length);
    await page.locator('button[data-range="1h"]').click();
    await expect
      .poll(() => page.locator("#chart-cpu").getAttribute("data-points"), { timeout: 10_000 })
      .toBe(String(cpu.length));
    await page.screenshot({ path: join(shots, "dashboard-node.png"), fullPage: true });
  });
});
