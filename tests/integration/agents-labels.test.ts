import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDaemonConfig } from "../../src/daemon/config.js";
import { createDaemon } from "../../src/daemon/daemon.js";
import { nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";
import { memoryLogger, tempDir } from "../helpers/daemon-harness.js";
import { fleetClient, startFleetManager } from "../helpers/fleet-seed.js";
import { uniqueNodeId } from "../helpers/manager.js";
import { waitFor } from "../helpers/wait.js";

describe("a daemon started with labels (daemon.labels + FLEET_LABELS)", () => {
  let manager: Manager;
  beforeAll(async () => {
    manager = await startFleetManager();
  });
  afterAll(async () => {
    await manager?.stop();
  });

  it("is found by ListNodes with a selector, shows label_* in /metrics/fleet, and comes back with its labels after a delete", async () => {
    const nodeId = uniqueNodeId("labelled");
    const batch = uniqueNodeId("b").replace(/-/g, "_");
    const workDir = tempDir();
    const yaml = `
daemon: { id: ${nodeId}, work_dir: ${workDir}, labels: { env: prod, role: web, batch: ${batch} } }
manager: { address: "${new URL(manager.grpcUrl).host}", heartbeat_interval: 1s, reconnect_interval: 200ms, timeout: 2s }
collectors: { cpu: { interval: 1s }, memory: { enabled: false }, disk: { enabled: false }, network: { enabled: false } }
`;
    // The real loader: FLEET_LABELS is merged over the file (role wins, zone is added).
    const config = loadDaemonConfig({
      argv: ["--config", "daemon.yaml"],
      env: { FLEET_LABELS: "role=api,zone=eu-1" },
      readFile: (p) => {
        if (p === "daemon.yaml") return yaml;
        throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      },
    });
    expect(config.labels).toEqual({ env: "prod", role: "api", batch, zone: "eu-1" });
    const daemon = createDaemon(config, { logger: memoryLogger().logger });
    await daemon.start();
    try {
      const api = fleetClient(manager);
      const found = await waitFor("the node listed by its labels", async () => {
        const res = await api.listNodes({ selector: `env=prod,role=api,batch=${batch}` });
        return res.nodes.length === 1 ? res : undefined;
      });
      expect(found.total).toBe(1n);
      expect(found.nodes[0]).toMatchObject({
        nodeId,
        labels: { env: "prod", role: "api", batch, zone: "eu-1" },
        // 1 s as configured, unless the shared test database holds enough nodes to raise the floor.
        heartbeatIntervalSeconds: manager.runtime.pacing.intervalFor(1),
        gracePeriodSeconds: 3 * manager.runtime.pacing.intervalFor(1),
      });
      expect((await api.listNodes({ selector: `role=web,batch=${batch}` })).nodes).toEqual([]);

      const text = await (await fetch(`${manager.httpUrl}/metrics/fleet`)).text();
      const info = text
        .split("\n")
        .find((l) => l.startsWith(`fleet_node_info{node_id="${nodeId}"`));
      expect(info).toContain('label_env="prod"');
      expect(info).toContain('label_role="api"');
      expect(info).toContain('label_zone="eu-1"');

      // Deleted: the daemon gets NOT_FOUND, registers again, and its labels come back.
      await api.deleteNode({ nodeId });
      const back = await waitFor(
        "the node back with its labels",
        async () =>
          (await manager.database.db.select().from(nodes).where(eq(nodes.nodeId, nodeId)))[0],
        { timeoutMs: 30_000 },
      );
      expect(back).toMatchObject({
        status: "online",
        labels: { env: "prod", role: "api", batch, zone: "eu-1" },
        requestedIntervalSeconds: 1,
      });
    } finally {
      await daemon.stop(500);
    }
  });
});
