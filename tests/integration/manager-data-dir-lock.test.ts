import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCK_FILE } from "../../src/manager/db/data-dir-lock.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { spawnEmbedded } from "../helpers/manager-process.js";
import { freePort } from "../helpers/private-postgres.js";
import { waitFor } from "../helpers/wait.js";

/** A real process on the embedded database, kept in `spawned`. */
function run(args: string[], env: Record<string, string>) {
  const p = spawnEmbedded(args, env);
  spawned.push(p.child);
  return p;
}

/** Everything started here, so a failed test leaves no process behind. */
const spawned: ChildProcess[] = [];

describe("one manager per embedded database (real processes)", () => {
  const dataDir = tempDir("fleet-lockdir-");
  let first: ChildProcess;
  let httpPort = 0;
  let grpcPort = 0;

  beforeAll(async () => {
    [httpPort, grpcPort] = [await freePort(), await freePort()];
    const m = run(["src/manager/main.ts"], {
      FLEET_DATA_DIR: dataDir,
      FLEET_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      FLEET_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    });
    first = m.child;
    await waitFor(
      "the first manager ready",
      async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }, 90_000);
  afterAll(async () => {
    for (const c of spawned) {
      if (c.exitCode === null && c.signalCode === null) {
        // A demo stops its own manager and daemon on SIGTERM.
        c.kill("SIGTERM");
        await once(c, "exit");
      }
    }
  });

  it("a second manager on the same data directory exits 2 with one line", async () => {
    const [h, g] = [await freePort(), await freePort()];
    const second = run(["src/manager/main.ts"], {
      FLEET_DATA_DIR: dataDir,
      FLEET_HTTP_ADDR: `127.0.0.1:${h}`,
      FLEET_GRPC_ADDR: `127.0.0.1:${g}`,
    });
    expect(await second.exited).toBe(2);
    expect(second.out.stderr).toBe(
      `fleet-manager: data directory ${dataDir} is in use by another fleet-manager (pid ${first.pid}, ${join(dataDir, LOCK_FILE)}); stop it first, or use another FLEET_DATA_DIR, or DATABASE_URL for several managers\n`,
    );
    // The first one is untouched.
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok).toBe(true);
  });

  it("npm start (scripts/demo.ts) with its ports taken fails instead of printing 'Fleet is running'", async () => {
    const demo = run(["scripts/demo.ts"], {
      FLEET_DATA_DIR: tempDir("fleet-demo-"),
      FLEET_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      FLEET_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    });
    expect(await demo.exited).toBe(1);
    expect(demo.out.stdout).not.toContain("Fleet is running");
    expect(demo.out.stderr).toContain(`127.0.0.1:${httpPort} is already in use`);
  });

  it("npm start on a data directory another manager holds fails with the manager's line", async () => {
    const [h, g] = [await freePort(), await freePort()];
    const demo = run(["scripts/demo.ts"], {
      FLEET_DATA_DIR: dataDir,
      FLEET_HTTP_ADDR: `127.0.0.1:${h}`,
      FLEET_GRPC_ADDR: `127.0.0.1:${g}`,
    });
    expect(await demo.exited).toBe(1);
    expect(demo.out.stdout).not.toContain("Fleet is running");
    expect(demo.out.stderr).toContain("is in use by another fleet-manager");
    expect(demo.out.stderr).toContain("the manager exited before it was ready");
  });

  it("after a SIGKILL the stale lock is taken over by the next manager", async () => {
    first.kill("SIGKILL");
    await once(first, "exit");
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(true);
    const [h, g] = [await freePort(), await freePort()];
    const next = run(["src/manager/main.ts"], {
      FLEET_DATA_DIR: dataDir,
      FLEET_HTTP_ADDR: `127.0.0.1:${h}`,
      FLEET_GRPC_ADDR: `127.0.0.1:${g}`,
    });
    try {
      await waitFor(
        "the next manager ready",
        async () => (await fetch(`http://127.0.0.1:${h}/readyz`)).ok,
        {
          timeoutMs: 60_000,
          intervalMs: 200,
        },
      );
    } finally {
      next.child.kill("SIGTERM");
    }
    expect(await next.exited).toBe(0);
    // A clean stop removes its lock.
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  }, 90_000);
});
