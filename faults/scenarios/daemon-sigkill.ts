import { checkData, drainAndStop } from "../lib/checks.js";
import { startDaemons, waitReported } from "../lib/fleet.js";
import { startScenarioManager } from "../lib/manager.js";
import { sleep } from "../lib/proc.js";
import type { Scenario } from "../lib/scenario.js";

/** SIGKILLs at random moments (each daemon restarted after a second, as systemd would). */
const KILLS = 8;

export const daemonSigkill: Scenario = {
  name: "daemon-sigkill",
  summary:
    "daemons SIGKILLed at random moments, also while the manager is SIGSTOPped 3 s (a send in flight)",
  async run(ctx) {
    const m = await startScenarioManager(ctx);
    const nodes = await startDaemons(ctx, 3, () => m.grpcAddress);
    let kills = 0;
    let pausedKills = 0;
    const killOne = async () => {
      const n = nodes[Math.floor(Math.random() * nodes.length)];
      const p = n?.current;
      if (!n || !p) return;
      p.kill("SIGKILL");
      await p.exited;
      kills++;
      await sleep(1_000);
      n.start();
    };
    for (let i = 0; i < KILLS; i++) {
      await sleep(500 + Math.random() * 2_500);
      await killOne();
    }
    // The manager frozen: calls hang mid-flight; the daemon dies with a send open.
    for (let i = 0; i < 2; i++) {
      m.kill("SIGSTOP");
      await sleep(1_500);
      const n = nodes[i];
      const p = n?.current;
      p?.kill("SIGKILL");
      if (p) {
        await p.exited;
        pausedKills++;
      }
      await sleep(1_500);
      m.kill("SIGCONT");
      n?.start();
      await sleep(2_000);
    }
    const lastStart = Math.max(...nodes.map((n) => n.lives.at(-1)?.startedAt ?? 0));
    await waitReported(ctx, nodes, lastStart);
    await drainAndStop(nodes);
    const data = await checkData(ctx.sql, nodes);
    await m.stop();
    return {
      kills: kills + pausedKills,
      kills_with_manager_paused: pausedKills,
      restarts: nodes.reduce((n, d) => n + d.lives.length - 1, 0),
      rows: data.rows,
      late_rounds: data.lateRounds,
      down_holes: data.downHoles,
      duplicates: data.duplicates,
      gaps_while_running: data.gaps,
      dropped: data.dropped,
    };
  },
};
