import { afterAll, describe, expect, it } from "vitest";
import { createManagerConnection } from "../../src/daemon/transport/client.js";
import { ownTestDatabase, testDatabaseConfig, uniqueNodeId } from "../helpers/manager.js";
import { type ManagerProcess, spawnManager } from "../helpers/manager-process.js";
import { waitFor } from "../helpers/wait.js";

const onPostgres = Boolean(testDatabaseConfig().databaseUrl);

/** Successful RegisterNode calls counted in a Prometheus text exposition. */
function registered(text: string): number {
  const line = text
    .split("\n")
    .find((l) => /^fleet_rpc_requests_total\{.*\/RegisterNode",code="(ok|OK)"\}/.test(l));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

// The real bin with --workers 2 (node:cluster) on a PostgreSQL database of its
// own: workers > 1 is refused on the embedded database.
describe.skipIf(!onPostgres)("fleet-manager --workers 2 (PostgreSQL only)", () => {
  let manager: ManagerProcess | undefined;
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await manager?.stop();
    await drop?.();
  });

  /** Registers `n` nodes, each over a connection of its own (the primary deals connections round-robin). */
  const registerEach = async (grpcUrl: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const conn = createManagerConnection({ address: grpcUrl, timeoutMs: 10_000, retry: false });
      try {
        await conn.client.registerNode({ nodeId: uniqueNodeId("workers") });
      } finally {
        conn.close();
      }
    }
  };
  const scrape = async (httpUrl: string) => {
    const res = await fetch(`${httpUrl}/metrics`);
    expect(res.status).toBe(200);
    return res.text();
  };

  it("shares both ports, sums /metrics, restarts a killed worker and drains on SIGTERM", async () => {
    const own = await ownTestDatabase();
    drop = own.drop;
    manager = await spawnManager({ DATABASE_URL: own.config.databaseUrl as string }, [
      "--workers",
      "2",
    ]);
    const m = manager;
    const serving = (n: number) =>
      waitFor(
        `"cluster serving" ×${n}`,
        () => m.logs.filter((l) => l.msg === "cluster serving").length >= n,
        {
          timeoutMs: 60_000,
        },
      );
    await serving(1);
    const listening = m.logs.filter((l) => l.msg === "manager listening");
    expect(new Set(listening.map((l) => `${l.grpc} ${l.http}`)).size).toBe(1); // one port pair for both
    const workers = m.logs.filter((l) => l.msg === "worker started").map((l) => l.pid as number);
    expect(workers).toHaveLength(2);
    expect(m.logs.filter((l) => l.msg === "migrations applied (cluster primary)")).toHaveLength(1);

    await registerEach(m.grpcUrl, 6);
    // Every scrape, whichever worker answers, is the sum over both workers.
    for (let i = 0; i < 4; i++) expect(registered(await scrape(m.httpUrl))).toBe(6);
    // One sweeper across the workers: the lease goes to one of them at its first sweep.
    await waitFor(
      "one leader",
      async () => /^fleet_liveness_leader 1$/m.test(await scrape(m.httpUrl)),
      {
        timeoutMs: 30_000,
      },
    );

    process.kill(workers[0] as number, "SIGKILL");
    await waitFor(
      "worker restarted",
      () => m.logs.filter((l) => l.msg === "worker started").length >= 3,
      {
        timeoutMs: 30_000,
      },
    );
    await serving(2);
    const exited = m.logs.find((l) => l.msg === "worker exited; restarting");
    expect(exited).toMatchObject({ pid: workers[0], signal: "SIGKILL" });
    // The killed worker's counts went with it: the survivor served some of the six, not all.
    const survivor = registered(await scrape(m.httpUrl));
    expect(survivor).toBeGreaterThan(0);
    expect(survivor).toBeLessThan(6);
    await registerEach(m.grpcUrl, 4);
    expect(registered(await scrape(m.httpUrl))).toBe(survivor + 4);

    const exit = new Promise<[number | null, string | null]>((resolve) =>
      m.child.once("exit", (code, signal) => resolve([code, signal])),
    );
    m.child.kill("SIGTERM");
    const [code, signal] = await exit;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(m.logs.filter((l) => l.msg === "manager stopped")).toHaveLength(2);
    const alive = m.logs
      .filter((l) => l.msg === "worker started")
      .map((l) => l.pid as number)
      .filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
    expect(alive).toEqual([]);
  }, 120_000);
});
