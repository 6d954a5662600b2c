import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { and, count, eq, gte, lte } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/common/package-root.js";
import { createManagerClient } from "../../src/daemon/transport/client.js";
import { type DatabaseHandle, openDatabase } from "../../src/manager/db/client.js";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import { testDatabaseConfig, uniqueNodeId } from "../helpers/manager.js";
import { waitFor } from "../helpers/wait.js";

const sharedDb = testDatabaseConfig().databaseUrl;
const NODES = 20;
const PER_BATCH = 25;
const MAX_ROUNDS = 400;

interface Ack {
  nodeId: string;
  from: number;
  to: number;
}

// The real `fleet-manager` process on the PostgreSQL test database: the test
// reads what it acknowledged back from the database after the process is gone.
describe.skipIf(!sharedDb)(
  "SIGTERM during load (skipped without TEST_DATABASE_URL: the process and the test must share a database)",
  () => {
    let child: ChildProcess | undefined;
    let handle: DatabaseHandle | undefined;
    afterAll(async () => {
      if (child && child.exitCode === null) child.kill("SIGKILL");
      await handle?.close();
    });

    it("every acknowledged row is in the database after a graceful shutdown", async () => {
      child = spawn(process.execPath, ["--import", "tsx", "src/manager/main.ts"], {
        cwd: packageRoot(),
        env: {
          ...process.env,
          DATABASE_URL: sharedDb,
          FLEET_GRPC_ADDR: "127.0.0.1:0",
          FLEET_HTTP_ADDR: "127.0.0.1:0",
          FLEET_LOG_LEVEL: "info",
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      const logs: Record<string, unknown>[] = [];
      createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          logs.push({ msg: line });
        }
      });
      const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
      const listening = await waitFor(
        "manager listening",
        () => logs.find((l) => l.msg === "manager listening") as { grpc: string } | undefined,
        { timeoutMs: 60_000 },
      );

      const client = createManagerClient({
        address: listening.grpc,
        timeoutMs: 20_000,
        retry: false,
      });
      const prefix = uniqueNodeId("term");
      const ids = Array.from({ length: NODES }, (_, i) => `${prefix}-${i}`);
      await Promise.all(ids.map((nodeId) => client.registerNode({ nodeId })));

      const acks: Ack[] = [];
      let signalled = false;
      const t0 = Math.floor(Date.now() / 1000) - 1;
      const loops = ids.map(async (nodeId) => {
        for (let round = 0; round < MAX_ROUNDS; round++) {
          const to = t0 - round * PER_BATCH;
          const from = to - PER_BATCH + 1;
          try {
            await client.reportMetrics({
              nodeId,
              metrics: Array.from({ length: PER_BATCH }, (_, k) => ({
                type: "cpu",
                timestamp: BigInt(from + k),
                values: { usage_percent: k },
              })),
            });
          } catch {
            return; // the manager is going away: this batch was not acknowledged
          }
          acks.push({ nodeId, from, to });
        }
      });
      await waitFor("some acknowledged batches", () => acks.length >= 3 * NODES, {
        timeoutMs: 30_000,
      });
      const ackedBeforeSignal = acks.length;
      signalled = child.kill("SIGTERM");
      expect(signalled).toBe(true);
      await Promise.all(loops);
      const [code, signal] = await Promise.race([
        exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("manager did not exit within 30 s")), 30_000).unref(),
        ),
      ]);
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(logs.map((l) => l.msg)).toEqual(
        expect.arrayContaining(["shutting down", "manager stopped"]),
      );

      handle = await openDatabase({ url: sharedDb, dataDir: "" });
      const db = handle.db;
      const missing: Ack[] = [];
      for (const ack of acks) {
        const [r] = await db
          .select({ n: count() })
          .from(metrics)
          .where(
            and(
              eq(metrics.nodeId, ack.nodeId),
              gte(metrics.ts, new Date(ack.from * 1000)),
              lte(metrics.ts, new Date(ack.to * 1000)),
            ),
          );
        if (r?.n !== PER_BATCH) missing.push(ack);
      }
      expect(acks.length).toBeGreaterThanOrEqual(3 * NODES);
      expect(missing).toEqual([]);
      // Calls in flight at SIGTERM were finished and answered, not dropped.
      console.log(
        `[sigterm] ${ackedBeforeSignal} batches acknowledged before SIGTERM, ${acks.length - ackedBeforeSignal} after`,
      );
    });
  },
);
