import { checkData, drainAndStop } from "../lib/checks.js";
import { startDaemons, waitReported } from "../lib/fleet.js";
import { startHaproxy } from "../lib/haproxy.js";
import { managerPorts, startReadyManager } from "../lib/manager.js";
import { sleep } from "../lib/proc.js";
import { type Scenario, secs } from "../lib/scenario.js";

export const replicaKilled: Scenario = {
  name: "replica-killed",
  summary: "two replicas behind HAProxy (mode http, proto h2 both sides), one SIGKILLed",
  async run(ctx) {
    const start = async (name: string) =>
      startReadyManager({
        name,
        dir: ctx.dir,
        databaseUrl: ctx.databaseUrl,
        ports: await managerPorts(),
      });
    // One after the other: the first applies the migrations.
    const a = await start("replica-a");
    const b = await start("replica-b");
    const lb = await startHaproxy(ctx.dir, [
      { name: "a", port: a.grpcPort },
      { name: "b", port: b.grpcPort },
    ]);
    const nodes = await startDaemons(ctx, 4, () => `127.0.0.1:${lb.port}`);
    await sleep(4_000);
    const killedAt = Date.now();
    a.kill("SIGKILL");
    await a.exited;
    ctx.note("replica a killed");
    const resumedAt = await waitReported(ctx, nodes, killedAt + 1000);
    await sleep(4_000); // the fleet on replica b alone
    await drainAndStop(nodes);
    const data = await checkData(ctx.sql, nodes);
    if (!b.running) throw new Error("replica b exited");
    await b.stop();
    await lb.stop(5_000);
    return {
      reports_after_kill: secs(resumedAt - killedAt),
      rows: data.rows,
      late_rounds: data.lateRounds,
      duplicates: data.duplicates,
      gaps: data.gaps,
      dropped: data.dropped,
    };
  },
};
