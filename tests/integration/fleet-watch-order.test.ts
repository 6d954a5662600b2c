import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { NodeEvent } from "../../gen/fleet/v1/fleet_pb.js";
import type { Manager } from "../../src/manager/server.js";
import { fleetClient, startFleetManager } from "../helpers/fleet-seed.js";
import { uniqueNodeId } from "../helpers/manager.js";
import { waitFor } from "../helpers/wait.js";

const url = inject("databaseUrl");
if (!url) {
  console.warn(
    "[fleet-watch-order] skipped: needs PostgreSQL (TEST_DATABASE_URL); PGlite has one connection",
  );
}

// Event ids are taken at insert but become visible at commit: a later id can
// commit first. WatchNodes must hold it back until the earlier one commits.
describe.skipIf(!url)("WatchNodes with concurrent writers (PostgreSQL)", () => {
  let manager: Manager;
  let sql: postgres.Sql;

  beforeAll(async () => {
    // Keepalives every 200 ms: each one after a poll shows the stream looked again.
    manager = await startFleetManager({}, { watchKeepaliveMs: 200 });
    sql = postgres(url, { max: 2, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await manager?.stop();
  });

  it("delivers events in id order even when a later id commits first", async () => {
    const slow = uniqueNodeId("slow");
    const fast = uniqueNodeId("fast");
    const [{ max }] =
      (await sql`select coalesce(max(id), 0)::text as max from node_events`) as unknown as [
        { max: string },
      ];
    const ctl = new AbortController();
    const seen: NodeEvent[] = [];
    let keepalives = 0;
    const reading = (async () => {
      for await (const e of fleetClient(manager).watchNodes(
        { afterEventId: BigInt(max) },
        { signal: ctl.signal },
      )) {
        if (e.kind === "keepalive") keepalives++;
        if (e.nodeId === slow || e.nodeId === fast) seen.push(e);
        if (seen.length === 2) return;
      }
    })().catch((err: unknown) => {
      if (!ctl.signal.aborted) throw err;
    });

    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let inserted!: () => void;
    const slowInserted = new Promise<void>((r) => {
      inserted = r;
    });
    const slowTx = sql.begin(async (tx) => {
      await tx`insert into node_events (node_id, kind, reason) values (${slow}, 'offline', 'test')`;
      inserted();
      await released;
    });
    await slowInserted;
    await sql`insert into node_events (node_id, kind, reason) values (${fast}, 'offline', 'test')`;

    // The fast event is committed, but its predecessor is still in flight: nothing yet,
    // however often the stream looks (a keepalive may have left before the commit: wait for 3).
    const since = keepalives;
    await waitFor("three keepalives after the fast commit", () => keepalives >= since + 3);
    expect(seen).toEqual([]);

    release();
    await slowTx;
    await Promise.race([
      reading,
      new Promise((_, fail) =>
        setTimeout(() => fail(new Error("events not delivered in 10 s")), 10_000),
      ),
    ]);
    ctl.abort();
    expect(seen.map((e) => e.nodeId)).toEqual([slow, fast]);
    expect(seen[0]?.eventId).toBeLessThan(seen[1]?.eventId ?? 0n);
  });
});
