/**
 * The known-node cache and the heartbeat flush, on a real migrated database:
 * a flush that writes a node's row renews its entry (so a node that keeps
 * heartbeating never costs a lookup when the entry's TTL runs out), and a
 * flush that finds the row gone forgets the node.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/common/logging.js";
import type { DatabaseHandle } from "../../src/manager/db/client.js";
import { upsertNode } from "../../src/manager/db/queries/nodes.js";
import { createHeartbeatBatcher } from "../../src/manager/services/heartbeat-batcher.js";
import { createKnownNodes } from "../../src/manager/services/known-nodes.js";
import { createTelemetry } from "../../src/manager/telemetry.js";
import { openOwnDatabase } from "../helpers/manager.js";

const TTL_MS = 200;
const RULE = { fixedSeconds: 0, multiplier: 3, defaultIntervalSeconds: 30, floorSeconds: 1 };

let handle: DatabaseHandle;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ handle, close } = await openOwnDatabase());
});

afterAll(async () => {
  await close?.();
});

const register = (nodeId: string, heartbeatIntervalSeconds: number) =>
  upsertNode(
    handle.db,
    {
      nodeId,
      hostname: nodeId,
      ip: "127.0.0.1",
      os: "linux",
      arch: "amd64",
      labels: {},
      daemonVersion: "test",
      agentVersion: "test",
      heartbeatIntervalSeconds,
    },
    new Date(),
  );

function setup() {
  const known = createKnownNodes(handle.db, { ttlMs: TTL_MS });
  const batcher = createHeartbeatBatcher({
    db: handle.db,
    known,
    flushIntervalMs: 60_000,
    graceRule: () => RULE,
    telemetry: createTelemetry(),
    logger: createLogger("known-nodes-test", "silent"),
  });
  return { known, batcher };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("heartbeat flush and the known-node cache", () => {
  it("renews the entry of every node whose row it wrote, with the row's requested interval", async () => {
    await register("renew-1", 45);
    const { known, batcher } = setup();
    known.add("renew-1", 0);
    await sleep(TTL_MS + 50);
    expect(known.isKnown("renew-1")).toBe(false); // expired: the hot path would look it up

    batcher.record("renew-1", new Date(), undefined);
    await batcher.flush();
    expect(known.isKnown("renew-1")).toBe(true);
    expect(known.requestedIntervalSeconds("renew-1")).toBe(45);
  });

  it("forgets a node whose row is gone by the flush", async () => {
    await register("renew-gone", 0);
    const { known, batcher } = setup();
    known.add("renew-gone", 0);
    batcher.record("renew-gone", new Date(), undefined);
    await handle.db.execute(sql`delete from nodes where node_id = 'renew-gone'`);
    await batcher.flush();
    expect(known.isKnown("renew-gone")).toBe(false);
    await expect(known.require("renew-gone")).rejects.toThrow(/renew-gone/);
  });
});
