import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/common/package-root.js";

/**
 * Builds the dashboard into dist/web when it is missing, so tests that load
 * `/` pass on a fresh clone (`npm ci && npm test`, no `npm run build` first).
 * Test files run one at a time (fileParallelism: false), so two never build at once.
 */
export async function ensureDashboardBuilt(): Promise<void> {
  const root = packageRoot();
  if (existsSync(join(root, "dist/web/index.html"))) return;
  const { build } = await import("vite");
  await build({ configFile: join(root, "web/vite.config.ts"), logLevel: "warn" });
}
