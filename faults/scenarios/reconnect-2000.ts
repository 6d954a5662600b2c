import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { managerPorts, startReadyManager } from "../lib/manager.js";
import { sleep, waitFor } from "../lib/proc.js";
import { type Scenario, secs } from "../lib/scenario.js";
import type { SimStats } from "../lib/sim-nodes.js";
import { startSimNodes } from "../lib/sim-nodes-client.js";

const NODES = 2_000;

export const reconnect2000: Scenario = {
  name: "reconnect-2000",
  summary:
    "2,000 simulated nodes reconnect after a manager restart: 99 % heartbeat OK, pushback on every shed, none offline",
  async run(ctx) {
    const ports = await managerPorts();
    // 250 heartbeats/s for the fleet: the manager asks each node for one every 8 s. At most
    // 100 calls in flight, so the reconnect storm is shed (with pushback) rather than queued.
    const config = join(ctx.dir, "manager.yaml");
    writeFileSync(
      config,
      "heartbeat: { interval: 1s, max_per_second: 250 }\nadmission: { max_in_flight: 100 }\n",
    );
    const start = (name: string) =>
      startReadyManager({ name, dir: ctx.dir, databaseUrl: ctx.databaseUrl, ports, config });
    const m1 = await start("manager-1");
    const prefix = `${ctx.name}-sim`;
    const sim = await startSimNodes({
      url: `http://${m1.grpcAddress}`,
      prefix,
      count: NODES,
      sessions: 8,
    });
    ctx.onCleanup(() => sim.kill());
    let last: SimStats | undefined;
    await waitFor(
      "every node registered and heartbeating",
      async () => {
        const s = await sim.stats();
        last = s;
        return s.registered === NODES && s.okSinceMark === NODES;
      },
      90_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)}`);
    });
    await sim.mark();
    await waitFor(
      "a full round of heartbeats",
      async () => (await sim.stats()).okSinceMark === NODES,
      30_000,
      500,
    );
    ctx.note("fleet steady");
    const [{ n: offlineBefore } = { n: 0 }] = await ctx.sql<{ n: number }[]>`
      select count(*)::int as n from node_events where kind = 'offline' and node_id like ${`${prefix}-%`}`;
    const t0 = Date.now();
    // Killed, so every connection breaks at once and the whole fleet comes back together.
    await m1.stop(30_000, "SIGKILL");
    const m2 = await start("manager-2");
    const readyAt = Date.now();
    await sim.mark();
    const markedAt = Date.now();
    const up = await waitFor(
      "99 % of nodes heartbeating OK",
      async () => {
        const s = await sim.stats();
        return s.t99Ms >= 0 ? s : undefined;
      },
      90_000,
      250,
    );
    // Long enough after the restart for the sweeper to have judged every node at least once.
    await sleep(8_000);
    const stats = await sim.stop();
    const [{ n: offlineAfter } = { n: 0 }] = await ctx.sql<{ n: number }[]>`
      select count(*)::int as n from node_events where kind = 'offline' and node_id like ${`${prefix}-%`}`;
    const [{ n: online } = { n: 0 }] = await ctx.sql<{ n: number }[]>`
      select count(*)::int as n from nodes where status = 'online' and node_id like ${`${prefix}-%`}`;
    await m2.stop();
    if (stats.shedWithoutPushback > 0)
      throw new Error(
        `${stats.shedWithoutPushback} of ${stats.shed} shed answers without grpc-retry-pushback-ms (first: ${stats.firstShedWithoutPushback})`,
      );
    if (offlineAfter > offlineBefore) {
      const ev = await ctx.sql<{ at: string; reason: string }[]>`
        select round(extract(epoch from time) * 1000)::bigint::text as at, reason from node_events
         where kind = 'offline' and node_id like ${`${prefix}-%`} and time >= to_timestamp(${t0 / 1000})
        order by time limit 2`;
      const first = ev.map((e) => `${secs(Number(e.at) - readyAt)} after ready: ${e.reason}`);
      throw new Error(
        `${offlineAfter - offlineBefore} node(s) marked offline (${first.join("; ")})`,
      );
    }
    if (online !== NODES) throw new Error(`${online} of ${NODES} nodes online at the end`);
    return {
      nodes: NODES,
      restart: secs(readyAt - t0),
      t99_heartbeat_ok_after_ready: secs(up.t99Ms + (markedAt - readyAt)),
      shed: stats.shed,
      shed_without_pushback: stats.shedWithoutPushback,
      transport_errors: stats.transport,
      marked_offline: offlineAfter - offlineBefore,
    };
  },
};
