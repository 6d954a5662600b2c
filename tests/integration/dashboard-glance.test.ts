import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sql } from "drizzle-orm";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService, type MetricDataSchema } from "../../gen/manager/manager_pb.js";
import { createLogger } from "../../src/common/logging.js";
import { createManager, type Manager } from "../../src/manager/server.js";
import { ensureDashboardBuilt, hasChromium, launchBrowser, shots } from "../helpers/browser.js";
import { testManagerConfig, uniqueNodeId } from "../helpers/manager.js";

const start = async (httpPort = 0, grpcPort = 0) => {
  const m = createManager(
    testManagerConfig({
      httpAddr: { host: "127.0.0.1", port: httpPort },
      grpcAddr: { host: "127.0.0.1", port: grpcPort },
    }),
    { logger: createLogger("fleet-manager-test", "silent"), watchPollIntervalMs: 100 },
  );
  await m.start();
  return m;
};

describe.skipIf(!hasChromium)("dashboard at a glance in Chromium", () => {
  let manager: Manager;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const tag = uniqueNodeId("glance-ui");
  const now = Math.floor(Date.now() / 1000);
  // cpu by node; "idle" never reports usage.
  const cpu: Record<string, number | undefined> = { hot: 91, warm: 55, cool: 12, idle: undefined };
  const id = (k: string) => `${tag}-${k}`;
  const overview = () => `${manager.httpUrl}/#/?selector=${encodeURIComponent(`tag=${tag}`)}`;

  beforeAll(async () => {
    await ensureDashboardBuilt();
    manager = await start();
    const daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    for (const [k, v] of Object.entries(cpu)) {
      await daemon.registerNode({ nodeId: id(k), hostname: `${k}.lan`, labels: { tag } });
      if (v === undefined) continue;
      const rounds = Array.from({ length: 20 }, (_, i) => now - 1200 + i * 60);
      await daemon.reportMetrics({
        nodeId: id(k),
        metrics: rounds.flatMap((t, i): MessageInitShape<typeof MetricDataSchema>[] => [
          { type: "cpu", timestamp: BigInt(t), values: { usage_percent: v, load1: v / 50 } },
          { type: "memory", timestamp: BigInt(t), values: { usage_percent: 40, used_bytes: 3e9 } },
          // The issue's case: disk between 25.0 and 25.3 % must still draw on 0–100 %.
          {
            type: "disk",
            timestamp: BigInt(t),
            labels: { mount: "/" },
            values: { usage_percent: 25 + (i % 4) * 0.1 },
          },
          ...["eth0", "ifb0"].map((iface) => ({
            type: "network",
            timestamp: BigInt(t),
            labels: { interface: iface },
            values: {
              rx_bytes_per_second: iface === "eth0" ? 1e6 : 0,
              tx_bytes_per_second: iface === "eth0" ? 2e5 : 0,
            },
          })),
        ]),
      });
    }
    // The registrations' pending heartbeat flush would bring "cool" back: write it first.
    await manager.runtime.heartbeats.flush();
    await manager.database.db.execute(sql`
      with flip as (update nodes set status = 'offline', status_changed_at = now(),
                                     last_seen_at = now() - interval '1 hour'
                     where node_id = ${id("cool")} returning node_id)
      insert into node_events (node_id, kind, reason)
      select node_id, 'offline', 'no heartbeat for 180s' from flip`);
    browser = await launchBrowser();
    page = browser.page;
  });
  afterAll(async () => {
    await browser?.close();
    await manager?.stop();
  });

  const rowIds = () =>
    page
      .locator("#nodes tbody tr[data-node-id]")
      .evaluateAll((trs) =>
        trs.map((tr) => (tr.getAttribute("data-node-id") ?? "").split("-").pop()),
      );

  it("sorts by CPU, highest first, with usage bars", async () => {
    await page.goto(overview());
    await expect.poll(rowIds, { timeout: 15_000 }).toHaveLength(4);
    await page.locator('th[data-sort="cpu"] button').click();
    await expect.poll(rowIds, { timeout: 10_000 }).toEqual(["hot", "warm", "cool", "idle"]);
    expect(page.url()).toContain("sort=cpu");
    expect(page.url()).toContain("desc=1");
    const bar = page.locator(`tr[data-node-id="${id("hot")}"] td[data-col="cpu"] .usage`);
    expect(await bar.getAttribute("class")).toContain("high");
    expect(await bar.textContent()).toBe("91%");
    // Clicking again flips the direction (no data sorts lowest, as in the API).
    await page.locator('th[data-sort="cpu"] button').click();
    await expect.poll(rowIds, { timeout: 10_000 }).toEqual(["idle", "cool", "warm", "hot"]);
    await page.locator('th[data-sort="cpu"] button').click();
    await expect.poll(rowIds, { timeout: 10_000 }).toEqual(["hot", "warm", "cool", "idle"]);
    await page.screenshot({ path: join(shots, "glance-sort-cpu.png"), fullPage: true });
  });

  it("a status card filters the table when clicked", async () => {
    await page.locator('.card[data-count="offline"]').click();
    await expect.poll(rowIds, { timeout: 10_000 }).toEqual(["cool"]);
    expect(page.url()).toContain("status=offline");
    expect(await page.locator('.card[data-count="offline"]').getAttribute("aria-pressed")).toBe(
      "true",
    );
    await page.screenshot({ path: join(shots, "glance-status-card.png"), fullPage: true });
  });

  it("the URL restores the filter and sort after a reload", async () => {
    await page.reload();
    await expect.poll(rowIds, { timeout: 15_000 }).toEqual(["cool"]);
    expect(await page.locator("#status-filter").inputValue()).toBe("offline");
    expect(await page.locator("#selector-filter").inputValue()).toBe(`tag=${tag}`);
    expect(await page.locator('th[data-sort="cpu"]').getAttribute("aria-sort")).toBe("descending");
    await page.locator('.card[data-count="total"]').click();
    await expect.poll(rowIds, { timeout: 10_000 }).toHaveLength(4);
    await page.screenshot({ path: join(shots, "glance-url-restored.png"), fullPage: true });
    // A rejected selector leaves no stale rows or counts under its error.
    await page.locator("#selector-filter").fill("=prod");
    await page.locator("#selector-filter").press("Enter");
    await page.locator("#filter-error:not(:empty)").waitFor({ timeout: 10_000 });
    expect(await page.locator("#filter-error").textContent()).toContain("selector");
    expect(await rowIds()).toEqual([]);
    expect(await page.locator("#table-footer").textContent()).toBe(
      "no results (see the error above)",
    );
  });

  it("node charts: the range is the x-axis, percentages on a fixed 0–100 % axis, all-zero hidden", async () => {
    await page.goto(`${manager.httpUrl}/#/node/${encodeURIComponent(id("hot"))}?range=1h`);
    const disk = page.locator("#chart-disk");
    await page.locator("#chart-disk canvas").waitFor({ timeout: 15_000 });
    await expect.poll(() => disk.getAttribute("data-y-max"), { timeout: 10_000 }).toBe("100");
    expect(await disk.getAttribute("data-y-min")).toBe("0");
    expect(await page.locator("#chart-cpu").getAttribute("data-y-max")).toBe("100");
    // The x-axis spans the chosen hour, though the data covers only its last 20 minutes.
    const xMin = Number(await disk.getAttribute("data-x-min"));
    const xMax = Number(await disk.getAttribute("data-x-max"));
    expect(xMax - xMin).toBeGreaterThanOrEqual(3599);
    expect(xMin).toBeLessThanOrEqual(now - 3500);
    // ifb0 sends only zeros: its two series start hidden.
    await expect
      .poll(() => page.locator("#chart-network").getAttribute("data-hidden"), { timeout: 10_000 })
      .toBe("2");
    await expect
      .poll(() => page.locator("#chart-load").getAttribute("data-series"), { timeout: 10_000 })
      .toBe("1");
    await page.locator("#node-events li[data-kind]").first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, "glance-node-axes.png"), fullPage: true });
  });

  it("fits a 390 px phone: no horizontal overflow, the table is a list", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(overview());
    await expect.poll(rowIds, { timeout: 15_000 }).toHaveLength(4);
    // Strings: these run in the page (the test's tsconfig has no DOM types).
    const width = () => page.evaluate<number>("document.documentElement.scrollWidth");
    // Nothing sticks out to the right, charts included (overflow: hidden would only hide it).
    const wide = await page.evaluate<string[]>(`[...document.querySelectorAll("main *")]
      .filter((e) => e.getBoundingClientRect().right > 390)
      .map((e) => e.tagName.toLowerCase() + "." + e.className)`);
    expect(wide).toEqual([]);
    expect(await width()).toBeLessThanOrEqual(390);
    expect(
      await page.evaluate<string>(
        `getComputedStyle(document.querySelector("#nodes tbody tr[data-node-id]")).display`,
      ),
    ).toBe("block");
    await page.screenshot({ path: join(shots, "glance-phone-390.png"), fullPage: true });
    await page.goto(`${manager.httpUrl}/#/node/${encodeURIComponent(id("hot"))}`);
    await page.locator("#chart-cpu canvas").waitFor({ timeout: 15_000 });
    expect(await width()).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, "glance-phone-390-node.png"), fullPage: true });
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  it("says the manager is unreachable within 10 s of stopping it, and clears when it is back", async () => {
    await page.goto(overview());
    await expect.poll(rowIds, { timeout: 15_000 }).toHaveLength(4);
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    const http = Number(new URL(manager.httpUrl).port);
    const grpc = Number(new URL(manager.grpcUrl).port);
    await manager.stop();
    const banner = page.locator("#stale-banner");
    await banner.waitFor({ state: "visible", timeout: 10_000 });

    expect(await banner.textContent()).toMatch(
      /^Manager unreachable since \d\d:\d\d:\d\d — showing data from then$/,
    );
    await expect
      .poll(() => page.locator('#nodes tbody tr[data-status="unknown"]').count(), {
        timeout: 5000,
      })
      .toBe(4);
    await page.screenshot({ path: join(shots, "glance-stale-banner.png"), fullPage: true });
    manager = await start(http, grpc);
    await banner.waitFor({ state: "hidden", timeout: 20_000 });
    await page.screenshot({ path: join(shots, "glance-stale-cleared.png"), fullPage: true });
  });
});
