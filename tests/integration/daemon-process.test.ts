import { readdirSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import type { Manager } from "../../src/manager/server.js";
import { type LogEvent, tempDir } from "../helpers/daemon-harness.js";
import { spawnDaemon, writeDaemonYaml } from "../helpers/daemon-process.js";
import { startTestManager, uniqueNodeId } from "../helpers/manager.js";
import { waitFor } from "../helpers/wait.js";

describe("the fleet-daemon process", () => {
  let manager: Manager;
  let address: string;

  beforeAll(async () => {
    manager = await startTestManager({ heartbeatIntervalSeconds: 1 });
    address = new URL(manager.grpcUrl).host;
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("--help prints usage and exits 0", async () => {
    const d = spawnDaemon(["--help"]);
    expect((await d.exited).code).toBe(0);
    expect(d.stdout()).toMatch(/usage: fleet-daemon/);
  });

  it("--once prints what it sent and exits 0", async () => {
    const nodeId = uniqueNodeId("once");
    const d = spawnDaemon(["--once", "--work-dir", tempDir()], {
      MANAGER_ADDRESS: address,
      NODE_NAME: nodeId,
    });
    expect((await d.exited).code).toBe(0);
    const report = JSON.parse(d.stdout()) as {
      nodeId: string;
      sent: { type: string }[];
      accepted: number;
    };
    expect(report.nodeId).toBe(nodeId);
    expect(new Set(report.sent.map((s) => s.type))).toEqual(
      new Set(["cpu", "memory", "disk", "network"]),
    );
    const rows = await manager.database.db.select().from(metrics).where(eq(metrics.nodeId, nodeId));
    expect(rows).toHaveLength(report.sent.length);
    expect(report.accepted).toBe(report.sent.length);
  });

  it("--once exits non-zero with the reason when the manager is unreachable", async () => {
    const d = spawnDaemon(["--once", "--work-dir", tempDir()], {
      MANAGER_ADDRESS: "127.0.0.1:1",
      NODE_NAME: "nobody",
    });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toMatch(
      /--once failed against 127\.0\.0\.1:1: \[Unavailable\].*ECONNREFUSED.*nothing listens at manager\.address/,
    );
  });

  it("exits 2 naming the key and the problem on bad configuration", async () => {
    const dir = tempDir();
    const file = writeDaemonYaml(
      dir,
      address,
      "x",
      "  gpu: { enabled: true }\nextra: { }\n",
    ).replace(/$/, "");
    const d = spawnDaemon(["--config", file, "--log-level", "loud"]);
    expect((await d.exited).code).toBe(2);
    expect(d.stderr()).toMatch(/collectors\.gpu \(.*daemon\.yaml\): unknown collector/);
    expect(d.stderr()).toMatch(/daemon\.log_level \(--log-level\): expected one of/);
  });

  it("loses no batch and duplicates none when SIGKILLed while sending, then restarted", async () => {
    const nodeId = uniqueNodeId("kill9");
    const dir = tempDir();
    const config = writeDaemonYaml(dir, address, nodeId);
    const first = spawnDaemon(["--config", config]);
    // Let a few reports through, then kill it the moment it starts sending the next one.
    for (let i = 0; i < 3; i++) await first.next((e) => e.msg === "reported");
    const inFlight = await first.next((e) => e.msg === "reporting");
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const spooledBeforeKill = readdirSync(join(dir, "spool")).filter((f) => f.endsWith(".batch"));
    expect(spooledBeforeKill.length).toBeGreaterThan(0);

    const second = spawnDaemon(["--config", config]);
    for (let i = 0; i < 3; i++) await second.next((e) => e.msg === "reported");
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);

    // Everything acknowledged: the spool is empty.
    expect(readdirSync(join(dir, "spool")).filter((f) => f.endsWith(".batch"))).toEqual([]);
    const rows = await manager.database.db.select().from(metrics).where(eq(metrics.nodeId, nodeId));
    const key = (type: string, ts: number) => `${type}@${ts}`;
    const stored = new Map<string, number>();
    for (const r of rows) {
      const k = key(r.type, r.ts.getTime() / 1000);
      stored.set(k, (stored.get(k) ?? 0) + 1);
    }
    const spooled = [...first.events, ...second.events].filter((e) => e.msg === "spooled");
    const bySeq = new Map<number, LogEvent>(
      first.events.filter((e) => e.msg === "spooled").map((e) => [Number(e.seq), e]),
    );
    // Every spooled round is stored, with exactly its samples (no more, no fewer).
    for (const e of spooled) {
      expect(stored.get(key(String(e.type), Number(e.ts))), `${e.type}@${e.ts}`).toBe(
        Number(e.samples),
      );
    }
    // The batches in flight at the kill made it after the restart.
    for (const seq of inFlight.seqs as number[]) {
      const e = bySeq.get(seq);
      expect(e, `seq ${seq} was spooled`).toBeDefined();
      expect(stored.has(key(String(e?.type), Number(e?.ts)))).toBe(true);
    }
    // Nothing stored that the daemon did not spool (a round whose log line the kill cut off may exist).
    const spooledKeys = new Set(spooled.map((e) => key(String(e.type), Number(e.ts))));
    const unlogged = [...stored.keys()].filter((k) => !spooledKeys.has(k));
    expect(unlogged.length).toBeLessThanOrEqual(5);
  });

  it("SIGINT stops it cleanly too", async () => {
    const dir = tempDir();
    const d = spawnDaemon(["--config", writeDaemonYaml(dir, address, uniqueNodeId("int"))]);
    await d.next((e) => e.msg === "reported");
    d.child.kill("SIGINT");
    expect((await d.exited).code).toBe(0);
    expect(d.events.some((e) => e.msg === "fleet-daemon stopped")).toBe(true);
  });

  it("SIGTERM flushes, exits 0, and `fleet-daemon status` shows the state", async () => {
    const nodeId = uniqueNodeId("term");
    const dir = tempDir();
    const config = writeDaemonYaml(dir, address, nodeId);
    const d = spawnDaemon(["--config", config]);
    await d.next((e) => e.msg === "reported");
    d.child.kill("SIGTERM");
    expect((await d.exited).code).toBe(0);
    expect(d.events.some((e) => e.msg === "shutdown flush done")).toBe(true);
    const status = spawnDaemon(["status", "--config", config]);
    expect((await status.exited).code).toBe(0);
    expect(status.stdout()).toContain(`node_id:        ${nodeId}`);
    expect(status.stdout()).toMatch(/spool: +0 batches/);
    await waitFor(
      "rows",
      async () => {
        const rows = await manager.database.db
          .select()
          .from(metrics)
          .where(eq(metrics.nodeId, nodeId));
        return rows.length > 0;
      },
      { timeoutMs: 20_000 },
    );
  });
});
