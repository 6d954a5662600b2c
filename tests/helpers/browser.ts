import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { packageRoot } from "../../src/common/package-root.js";

/** Debian's Chromium; tests never download a browser. */
export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);
const root = packageRoot();
/** Where browser tests leave their screenshots. */
export const shots = join(root, "test-results");

export { ensureDashboardBuilt } from "./dashboard-build.js";

/** A headless Chromium with a throwaway profile; close() removes the profile. */
export async function launchBrowser(
  viewport = { width: 1360, height: 900 },
): Promise<{ context: BrowserContext; page: Page; close(): Promise<void> }> {
  mkdirSync(shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "fleet-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (err) => console.error("[dashboard pageerror]", err));
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
