import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManagerService } from "../../gen/manager/manager_pb.js";
import { packageRoot } from "../../src/common/package-root.js";
import { MANAGER_DEFAULTS } from "../../src/manager/config.js";
import { nodeEvents, nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { tempDir } from "../helpers/daemon-harness.js";
import { fleetClient } from "../helpers/fleet-seed.js";
import { startTestManager, testDatabaseConfig, uniqueNodeId } from "../helpers/manager.js";
import { waitFor } from "../helpers/wait.js";

/** A daemon's connection from one loopback address (127.0.0.0/8 is all ours on Linux). */
function daemonFrom(url: string, localAddress: string) {
  const { hostname, port } = new URL(url);
  const sessions = new Http2SessionManager(
    url,
    {},
    { createConnection: () => net.connect({ host: hostname, port: Number(port), localAddress }) },
  );
  const client = createClient(
    ManagerService,
    createGrpcTransport({ baseUrl: url, sessionManager: sessions }),
  );
  return { client, close: () => sessions.abort() };
}

const overrides = {
  heartbeatIntervalSeconds: 1,
  heartbeat: { ...MANAGER_DEFAULTS.heartbeat, flushIntervalMs: 100 },
  admission: { ...MANAGER_DEFAULTS.admission, heartbeatsPerSecond: 0 },
};

async function conflictEvents(manager: Manager, nodeId: string) {
  return manager.database.db
    .select()
    .from(nodeEvents)
    .where(and(eq(nodeEvents.nodeId, nodeId), eq(nodeEvents.kind, "identity_conflict")));
}

describe("one node_id served by two daemons (cloned identity)", () => {
  let manager: Manager;
  const opened: { close(): void }[] = [];
  const open = (addr: string) => {
    const d = daemonFrom(manager.grpcUrl, addr);
    opened.push(d);
    return d.client;
  };
  beforeAll(async () => {
    manager = await startTestManager(overrides);
  });
  afterAll(async () => {
    for (const d of opened) d.close();
    await manager?.stop();
  });

  it("flags the node and records one identity_conflict event naming both peers; other nodes are untouched", async () => {
    const clone = uniqueNodeId("clone");
    const bystander = uniqueNodeId("bystander");
    const a = open("127.0.0.2");
    const b = open("127.0.0.3");
    const c = open("127.0.0.4");
    await a.registerNode({ nodeId: clone, hostname: "original" });
    await c.registerNode({ nodeId: bystander, hostname: "other" });
    await c.heartbeat({ nodeId: bystander });
    await manager.runtime.heartbeats.flush();
    const [before] = await manager.database.db
      .select()
      .from(nodes)
      .where(eq(nodes.nodeId, bystander));
    // Interleaved heartbeats, as two machines with one node_id send them.
    for (let i = 0; i < 6; i++) {
      await (i % 2 ? b : a).heartbeat({ nodeId: clone });
      await c.heartbeat({ nodeId: bystander });
    }
    await manager.runtime.heartbeats.flush();
    const events = await waitFor("identity_conflict event", async () => {
      const e = await conflictEvents(manager, clone);
      return e.length > 0 ? e : undefined;
    });
    // Written once, not per heartbeat.
    expect(events).toHaveLength(1);
    expect(events[0]?.reason).toContain("127.0.0.2");
    expect(events[0]?.reason).toContain("127.0.0.3");
    const { node } = await fleetClient(manager).getNode({ nodeId: clone });
    expect(node?.identityConflict).toBe(true);
    expect(node?.identityConflictPeers).toBe("127.0.0.2 and 127.0.0.3");
    expect(Number(node?.identityConflictAt)).toBeGreaterThan(0);
    // The bystander: no flag, no event, and nothing changed but its heartbeat columns.
    expect(await conflictEvents(manager, bystander)).toEqual([]);
    const [after] = await manager.database.db
      .select()
      .from(nodes)
      .where(eq(nodes.nodeId, bystander));
    expect(after?.identityConflictAt).toBeNull();
    expect({ ...after, lastSeenAt: null }).toEqual({ ...before, lastSeenAt: null });
    const exposition = await fetch(`${manager.httpUrl}/metrics/fleet`).then((r) => r.text());
    expect(exposition).toContain(`fleet_node_identity_conflict{node_id="${clone}"} 1`);
    expect(exposition).toContain(`fleet_node_identity_conflict{node_id="${bystander}"} 0`);
  });

  it("does not flag a daemon that reconnects from a new address", async () => {
    const mover = uniqueNodeId("mover");
    const first = open("127.0.0.5");
    await first.registerNode({ nodeId: mover });
    for (let i = 0; i < 3; i++) await first.heartbeat({ nodeId: mover });
    const second = open("127.0.0.6");
    for (let i = 0; i < 5; i++) await second.heartbeat({ nodeId: mover });
    await manager.runtime.heartbeats.flush();
    // The flush reports the previous peer (127.0.0.5) once: one switch, no return.
    const [row] = await manager.database.db.select().from(nodes).where(eq(nodes.nodeId, mover));
    expect(row?.lastPeer).toBe("127.0.0.6");
    expect(await conflictEvents(manager, mover)).toEqual([]);
    const { node } = await fleetClient(manager).getNode({ nodeId: mover });
    expect(node?.identityConflict).toBe(false);
  });
});

const sharedDb = testDatabaseConfig().databaseUrl;
describe.skipIf(!sharedDb)(
  "a clone pair split over two replicas (skipped on PGlite: replicas need one shared database)",
  () => {
    let r1: Manager;
    let r2: Manager;
    const opened: { close(): void }[] = [];
    beforeAll(async () => {
      [r1, r2] = await Promise.all([startTestManager(overrides), startTestManager(overrides)]);
    });
    afterAll(async () => {
      for (const d of opened) d.close();
      await Promise.all([r1?.stop(), r2?.stop()]);
    });

    it("is found at flush granularity: each replica sees the other's peer in the row", async () => {
      const clone = uniqueNodeId("split");
      const a = daemonFrom(r1.grpcUrl, "127.0.0.7");
      const b = daemonFrom(r2.grpcUrl, "127.0.0.8");
      opened.push(a, b);
      await a.client.registerNode({ nodeId: clone });
      await b.client.registerNode({ nodeId: clone });
      // Each replica sees only its own daemon; the rows they write alternate.
      for (let i = 0; i < 4; i++) {
        await a.client.heartbeat({ nodeId: clone });
        await r1.runtime.heartbeats.flush();
        await b.client.heartbeat({ nodeId: clone });
        await r2.runtime.heartbeats.flush();
      }
      const events = await waitFor("identity_conflict across replicas", async () => {
        const e = await conflictEvents(r1, clone);
        return e.length > 0 ? e : undefined;
      });
      expect(events[0]?.reason).toContain("127.0.0.7");
      expect(events[0]?.reason).toContain("127.0.0.8");
    });
  },
);

describe("fleet-daemon reset-id", () => {
  const root = packageRoot();
  const run = (args: string[]) => {
    try {
      return {
        code: 0,
        out: execFileSync(process.execPath, ["--import", "tsx", "src/daemon/main.ts", ...args], {
          cwd: root,
          env: { ...process.env, NODE_NAME: "", MANAGER_ADDRESS: "", LOG_LEVEL: "" },
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        }),
      };
    } catch (err) {
      const e = err as { status: number; stderr: string };
      return { code: e.status, out: e.stderr };
    }
  };

  it("gives a cloned work_dir a new node id and clears the copied spool", () => {
    const work = tempDir("fleet-clone-");
    writeFileSync(join(work, "node_id"), "7d3c0f0e-original\n");
    execFileSync("mkdir", ["-p", join(work, "spool")]);
    writeFileSync(join(work, "spool", "000001.batch"), "old data");
    const r = run(["reset-id", "--work-dir", work]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("7d3c0f0e-original ->");
    const id = readFileSync(join(work, "node_id"), "utf8").trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(existsSync(join(work, "spool"))).toBe(false);
  });

  it("refuses while the daemon runs, and when the id comes from the configuration", () => {
    const work = tempDir("fleet-clone-");
    writeFileSync(join(work, "node_id"), "kept\n");
    writeFileSync(join(work, "status.json"), JSON.stringify({ pid: process.pid }));
    let r = run(["reset-id", "--work-dir", work]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`the daemon is running (pid ${process.pid}); stop it first`);
    expect(readFileSync(join(work, "node_id"), "utf8")).toBe("kept\n");
    const yaml = join(work, "daemon.yaml");
    writeFileSync(yaml, `daemon: { id: "web-1", work_dir: "${work}" }\n`);
    r = run(["reset-id", "--config", yaml]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('the node id "web-1" is set by daemon.id or NODE_NAME');
    expect(r.out).not.toMatch(/\n\s+at /);
  });
});
