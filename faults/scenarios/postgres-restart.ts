import { checkData, drainAndStop } from "../lib/checks.js";
import { startDaemons, waitReported } from "../lib/fleet.js";
import { startScenarioManager } from "../lib/manager.js";
import { sleep, waitFor } from "../lib/proc.js";
import { type Scenario, secs } from "../lib/scenario.js";

const OUTAGE_MS = 30_000;

export const postgresRestart: Scenario = {
  name: "postgres-restart",
  summary:
    "PostgreSQL stopped (pg_ctl stop -m fast) for 30 s and started: the manager survives and recovers",
  async run(ctx) {
    const m = await startScenarioManager(ctx);
    const nodes = await startDaemons(ctx, 3, () => m.grpcAddress);
    await sleep(3_000);
    const stoppedAt = Date.now();
    await ctx.pg.stop();
    ctx.note("PostgreSQL stopped");
    // During the outage: the manager stays up and says it is not ready.
    await waitFor("/readyz failing", async () => !(await m.ready()), 15_000, 250);
    const notReadyAfter = Date.now() - stoppedAt;
    const healthz = await fetch(`http://127.0.0.1:${m.httpPort}/healthz`).then((r) => r.status);
    if (healthz !== 200) throw new Error(`/healthz answered ${healthz} during the outage`);
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      if (!m.running)
        throw new Error(`the manager exited during the outage: ${JSON.stringify(await m.exited)}`);
      await sleep(500);
    }
    await ctx.pg.start();
    const startedAt = Date.now();
    ctx.note("PostgreSQL started");
    await waitFor(
      "/readyz again",
      async () => {
        if (!m.running) throw new Error("the manager exited after the outage");
        return m.ready();
      },
      60_000,
      250,
    );
    const readyAt = Date.now();
    const resumedAt = await waitReported(ctx, nodes, startedAt);
    await drainAndStop(nodes);
    const data = await checkData(ctx.sql, nodes);
    if (!m.running) throw new Error("the manager exited");
    await m.stop();
    return {
      outage: secs(OUTAGE_MS),
      readyz_failed_after: secs(notReadyAfter),
      ready_again: secs(readyAt - startedAt),
      reports_resumed: secs(resumedAt - startedAt),
      rows: data.rows,
      late_rounds: data.lateRounds,
      duplicates: data.duplicates,
      gaps: data.gaps,
      dropped: data.dropped,
    };
  },
};
