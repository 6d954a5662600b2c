import { checkData, drainAndStop } from "../lib/checks.js";
import { startDaemons, waitReported } from "../lib/fleet.js";
import { managerPorts, startReadyManager } from "../lib/manager.js";
import { sleep, waitFor } from "../lib/proc.js";
import { type Scenario, type ScenarioContext, secs } from "../lib/scenario.js";
import { startSimNodes } from "../lib/sim-nodes-client.js";

/** Background load besides the real daemons: simulated nodes heartbeating and reporting every second. */
const LOAD_NODES = 300;

async function managerRestart(ctx: ScenarioContext, signal: "SIGKILL" | "SIGTERM") {
  const ports = await managerPorts();
  const start = (name: string) =>
    startReadyManager({ name, dir: ctx.dir, databaseUrl: ctx.databaseUrl, ports });
  const m1 = await start("manager-1");
  const nodes = await startDaemons(ctx, 3, () => m1.grpcAddress);
  const sim = await startSimNodes({
    url: `http://${m1.grpcAddress}`,
    prefix: `${ctx.name}-sim`,
    count: LOAD_NODES,
    reportMs: 1000,
  });
  ctx.onCleanup(() => sim.kill());
  await waitFor(
    "the load running",
    async () => (await sim.stats()).okSinceMark === LOAD_NODES,
    30_000,
    250,
  );
  await sleep(3_000); // under load for a while
  const killedAt = Date.now();
  const exit = await m1.stop(30_000, signal);
  const stoppedMs = Date.now() - killedAt;
  if (signal === "SIGTERM" && exit.code !== 0)
    throw new Error(`SIGTERM: manager exited ${exit.code ?? exit.signal}, want 0`);
  ctx.note(`manager ${signal}: exit ${exit.code ?? exit.signal} after ${stoppedMs} ms`);
  await sleep(2_000); // a supervisor's restart delay
  const restartAt = Date.now();
  const m2 = await start("manager-2");
  const readyAt = Date.now();
  await sim.mark();
  const resumedAt = await waitReported(ctx, nodes, readyAt);
  await sleep(3_000); // load on the new manager
  const load = await sim.stop();
  await drainAndStop(nodes);
  const data = await checkData(ctx.sql, nodes);
  await m2.stop();
  return {
    ...(signal === "SIGTERM" ? { shutdown: secs(stoppedMs) } : {}),
    restart_ready: secs(readyAt - restartAt),
    reports_resumed: secs(resumedAt - readyAt),
    load_heartbeats_ok: load.heartbeatsOk,
    load_reports_ok: load.reportsOk,
    rows: data.rows,
    late_rounds: data.lateRounds,
    series: data.series,
    duplicates: data.duplicates,
    gaps: data.gaps,
    dropped: data.dropped,
  };
}

export const managerSigkill: Scenario = {
  name: "manager-sigkill",
  summary: "manager SIGKILLed under load (3 daemons + 300 simulated nodes), restarted",
  run: (ctx) => managerRestart(ctx, "SIGKILL"),
};

export const managerSigterm: Scenario = {
  name: "manager-sigterm",
  summary: "manager SIGTERMed under load, exits 0 within its shutdown timeout, restarted",
  run: (ctx) => managerRestart(ctx, "SIGTERM"),
};
