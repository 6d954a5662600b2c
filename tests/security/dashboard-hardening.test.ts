import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { eq } from "drizzle-orm";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { packageRoot } from "../../src/common/package-root.js";
import { nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";

const CHROMIUM = "/usr/bin/chromium";
const root = packageRoot();
const TOKEN = "dashboard-hardening-token-0123456789";

/** Builds the dashboard when dist/web is missing or older than web/src. */
async function ensureDashboardFresh(): Promise<void> {
  const index = join(root, "dist/web/index.html");
  const built = existsSync(index) ? statSync(index).mtimeMs : 0;
  const newest = Math.max(
    ...readdirSync(join(root, "web/src")).map((f) => statSync(join(root, "web/src", f)).mtimeMs),
  );
  if (built > newest) return;
  const { build } = await import("vite");
  await build({ configFile: join(root, "web/vite.config.ts"), logLevel: "warn" });
}

describe.skipIf(!existsSync(CHROMIUM))("dashboard hardening in Chromium", () => {
  let manager: Manager;
  let context: BrowserContext;
  let profile: string;
  const tag = uniqueNodeId("harden");
  const hostile = `${tag}-x`;
  const flagged = `${tag}-flagged`;
  const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

  beforeAll(async () => {
    await ensureDashboardFresh();
    manager = await startTestManager({
      auth: { apiToken: TOKEN, enrollToken: "", bindNodeIdentity: true },
    });
    const daemon = createClient(ManagerService, createGrpcTransport({ baseUrl: manager.grpcUrl }));
    await daemon.registerNode({
      nodeId: hostile,
      hostname: payload,
      labels: { tag, note: payload },
    });
    await daemon.registerNode({ nodeId: flagged, hostname: "clone", labels: { tag } });
    const soon = new Date(Date.now() + 3 * 86_400_000);
    await manager.database.db
      .update(nodes)
      .set({
        certExpiresAt: soon,
        certWarnAt: new Date(soon.getTime() - 14 * 86_400_000),
        identityConflictAt: new Date(),
        identityConflictUntil: new Date(Date.now() + 3_600_000),
        identityConflictPeers: "10.0.0.5 and 10.0.0.6",
      })
      .where(eq(nodes.nodeId, flagged));
    profile = mkdtempSync(join(tmpdir(), "fleet-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
    });
  }, 120_000);
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await manager?.stop();
  });

  it("serves the page with CSP (frame-ancestors 'none'), Referrer-Policy and nosniff", async () => {
    const res = await fetch(`${manager.httpUrl}/`);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // Scripts fall back to default-src 'self': no inline script, no eval.
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  });

  // Only this file's nodes: on a shared database the first page holds other files' nodes.
  const mine = () => `${manager.httpUrl}/#/?selector=${encodeURIComponent(`tag=${tag}`)}`;

  it("keeps the token in sessionStorage unless 'remember' is ticked", async () => {
    const page = await context.newPage();
    await page.goto(mine());
    await page.locator("form.token input[type=password]").fill(TOKEN);
    await page.locator("form.token button").click();
    await page.locator(`#nodes tbody tr[data-node-id="${flagged}"]`).waitFor();
    const stored = (await page.evaluate(
      `({ session: sessionStorage.getItem("fleet.apiToken"), local: Object.keys(localStorage) })`,
    )) as { session: string | null; local: string[] };
    expect(stored.session).toBe(TOKEN);
    expect(stored.local).toEqual([]);
    // Another tab has its own sessionStorage: it asks again.
    const other = await context.newPage();
    await other.goto(mine());
    await other.locator("form.token").waitFor();
    await other.locator("form.token input[type=password]").fill(TOKEN);
    await other.locator("#remember-token").check();
    await other.locator("form.token button").click();
    await other.locator(`#nodes tbody tr[data-node-id="${flagged}"]`).waitFor();
    expect(await other.evaluate(`localStorage.getItem("fleet.apiToken.remembered")`)).toBe(TOKEN);
    // Remembered: a third tab needs no prompt.
    const third = await context.newPage();
    await third.goto(mine());
    await third.locator(`#nodes tbody tr[data-node-id="${flagged}"]`).waitFor();
    await Promise.all([page.close(), other.close(), third.close()]);
  });

  it("runs no injected inline script: hostile node fields stay text, inline scripts are blocked by the CSP", async () => {
    const page = await context.newPage();
    const violations: string[] = [];
    await page.exposeFunction("__violation", (d: string) => violations.push(d));
    await page.addInitScript(
      `document.addEventListener("securitypolicyviolation", (e) => window.__violation(e.violatedDirective));`,
    );
    await page.goto(`${manager.httpUrl}/#/?selector=${encodeURIComponent(`tag=${tag}`)}`);
    const row = page.locator(`#nodes tbody tr[data-node-id="${hostile}"]`);
    await row.waitFor();
    // The payload is shown as text, not parsed into elements.
    expect(await row.textContent()).toContain("<script>");
    expect(await row.locator("img, script").count()).toBe(0);
    // Now inject for real, as an XSS bug would: an inline <script> and an inline handler.
    await page.evaluate(`{
      const s = document.createElement("script");
      s.textContent = "window.__pwned = 3";
      document.body.append(s);
      const div = document.createElement("div");
      div.innerHTML = '<img src="data:," onerror="window.__pwned = 4">';
      document.body.append(div);
    }`);
    await expect.poll(() => violations.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
    expect(violations.some((v) => v.startsWith("script-src"))).toBe(true);
    await page.close();
  });

  it("badges a node whose certificate expires soon or whose identity is shared", async () => {
    const page = await context.newPage();
    await page.goto(`${manager.httpUrl}/#/?selector=${encodeURIComponent(`tag=${tag}`)}`);
    const row = page.locator(`#nodes tbody tr[data-node-id="${flagged}"]`);
    await row.waitFor();
    expect(await row.locator('[data-badge="cert-expiring"]').textContent()).toMatch(
      /cert expires in [23] d/,
    );
    expect(await row.locator('[data-badge="identity-conflict"]').count()).toBe(1);
    const plain = page.locator(`#nodes tbody tr[data-node-id="${hostile}"]`);
    expect(await plain.locator("[data-badge]").count()).toBe(0);
    await page.goto(`${manager.httpUrl}/#/node/${encodeURIComponent(flagged)}`);
    await page.locator('[data-badge="identity-conflict"]').waitFor();
    await page.close();
  });
});
