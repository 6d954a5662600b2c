import { readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_DIR, RESULTS_DIR } from "./child.js";

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [p] : [];
  });
}

/**
 * Transpiles src/ and gen/ to plain JavaScript under bench/results/build (as
 * `npm run build` does for dist/, without touching dist/ that others use), so
 * the daemon is measured as shipped, not under the tsx loader. Returns the
 * path of the built daemon entry point.
 */
export async function buildForBench(): Promise<string> {
  const outdir = join(RESULTS_DIR, "build");
  rmSync(outdir, { recursive: true, force: true });
  const entryPoints = [...tsFiles(join(REPO_DIR, "src")), ...tsFiles(join(REPO_DIR, "gen"))];
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints,
    outdir,
    outbase: REPO_DIR,
    format: "esm",
    platform: "node",
    target: "node20",
    bundle: false,
    logLevel: "error",
  });
  return join(outdir, relative(REPO_DIR, join(REPO_DIR, "src", "daemon", "main.js")));
}
