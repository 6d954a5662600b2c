import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/common/package-root.js";
import type { Manager } from "../../src/manager/server.js";
import { startTestManager } from "../helpers/manager.js";

const run = promisify(execFile);
const root = packageRoot();

/**
 * The npm package as users get it: `npm pack`, install the tarball into an
 * empty folder, run both bins from there (no tsx, no sources).
 */
describe("npm package", () => {
  let work: string;
  let tarball: string;
  let files: string[];
  let manager: Manager;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "fleet-pack-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", work], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    const packed = JSON.parse(stdout.slice(stdout.indexOf("["))) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(work, packed[0]?.filename as string);
    files = (packed[0]?.files ?? []).map((f) => f.path);

    const app = join(work, "app");
    await run("mkdir", ["-p", app]);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "fleet-pack-check", private: true }),
    );
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], {
      cwd: app,
      maxBuffer: 64 * 1024 * 1024,
    });
    manager = await startTestManager();
  }, 600_000);

  afterAll(async () => {
    await manager?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const bin = (name: string) => join(work, "app", "node_modules", ".bin", name);

  it("carries the built bins and migrations, and no sources, tests or maps", () => {
    expect(files).toEqual(
      expect.arrayContaining([
        "dist/src/manager/main.js",
        "dist/src/daemon/main.js",
        "package.json",
      ]),
    );
    expect(files.some((f) => f.startsWith("drizzle/") && f.endsWith(".sql"))).toBe(true);
    const stray = files.filter(
      (f) =>
        f.startsWith("src/") ||
        f.startsWith("tests/") ||
        f.endsWith(".map") ||
        (f.endsWith(".ts") && !f.endsWith(".d.ts")),
    );
    expect(stray).toEqual([]);
  });

  it("runs `fleet-manager --help` and `fleet-daemon --help` from the installed tarball", async () => {
    const m = await run(bin("fleet-manager"), ["--help"]);
    expect(m.stdout).toMatch(/usage: fleet-manager/);
    const d = await run(bin("fleet-daemon"), ["--help"]);
    expect(d.stdout).toMatch(/usage: fleet-daemon/);
  });

  it("runs `fleet-daemon --once` against a manager and exits 0", async () => {
    const workDir = join(work, "daemon-state");
    const { stdout } = await run(bin("fleet-daemon"), ["--once", "--work-dir", workDir], {
      env: {
        ...process.env,
        MANAGER_ADDRESS: manager.grpcUrl.replace(/^http:\/\//, ""),
        NODE_NAME: "packed-node",
      },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toMatch(/"nodeId": "packed-node"/);
    expect(readdirSync(join(work, "app", "node_modules", "fleet", "dist", "src"))).toContain(
      "daemon",
    );
    const node = await manager.database.db.query.nodes.findFirst({
      where: (n, { eq }) => eq(n.nodeId, "packed-node"),
    });
    expect(node?.hostname).toBeTruthy();
  });
});
