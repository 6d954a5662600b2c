import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));

const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name);
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);

/**
 * The suite runs the bins as shipped (dist/, plain node). Compiles them with
 * tsc when missing or older than src/ or gen/ (the dashboard is not needed);
 * returns what it did, for the header line.
 */
export function ensureBuilt(): string {
  const bins = ["dist/src/daemon/main.js", "dist/src/manager/main.js"].map((b) => join(REPO, b));
  const built = bins.every((b) => existsSync(b))
    ? Math.min(...bins.map((b) => statSync(b).mtimeMs))
    : 0;
  if (built > Math.max(newest(join(REPO, "src")), newest(join(REPO, "gen"))))
    return "dist/ up to date";
  const r = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: REPO, stdio: "inherit" });
  if (r.status !== 0) throw new Error("tsc -p tsconfig.build.json failed");
  return "dist/ rebuilt (tsc)";
}
