import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkData, drainAndStop } from "../lib/checks.js";
import { startDaemons } from "../lib/fleet.js";
import { startScenarioManager } from "../lib/manager.js";
import { sleep } from "../lib/proc.js";
import type { Scenario } from "../lib/scenario.js";

const STEP_MS = 10 * 60_000;

export const clockStep: Scenario = {
  name: "clock-step",
  summary:
    "a daemon's clock stepped back and forward by 10 minutes: no second reused, none skipped",
  async run(ctx) {
    const m = await startScenarioManager(ctx);
    const clockFile = join(ctx.dir, "clock-offset-ms");
    const shift = (ms: number) => writeFileSync(clockFile, String(ms));
    shift(0);
    const startedAt = Date.now();
    const nodes = await startDaemons(ctx, 2, () => m.grpcAddress, { clockFile });
    for (const offset of [-STEP_MS, 0, +STEP_MS, 0]) {
      await sleep(8_000);
      shift(offset);
      ctx.note(`daemon clocks at ${offset / 1000} s`);
    }
    await sleep(5_000);
    const steps = nodes.map((n) => n.status()?.clock_steps ?? 0);
    await drainAndStop(nodes);
    const endedAt = Date.now();
    const data = await checkData(ctx.sql, nodes);
    // Stamps stayed on real time: none 10 minutes off.
    const [r] = await ctx.sql<{ lo: string; hi: string }[]>`
      select extract(epoch from min(ts))::bigint::text as lo, extract(epoch from max(ts))::bigint::text as hi
        from metrics where node_id = any(${nodes.map((n) => n.id)})`;
    if (Number(r?.lo) < startedAt / 1000 - 2 || Number(r?.hi) > endedAt / 1000 + 2)
      throw new Error(`samples stamped off real time: ${r?.lo}..${r?.hi}`);
    // Two steps away from real time each; the steps back to it are followed without a word.
    if (steps.some((s) => s !== 2))
      throw new Error(`daemons saw ${steps.join(", ")} clock steps, want 2 each`);
    await m.stop();
    return {
      steps: "-10m,0,+10m,0",
      clock_steps_seen: steps.join(","),
      rows: data.rows,
      late_rounds: data.lateRounds,
      duplicates: data.duplicates,
      gaps: data.gaps,
      dropped: data.dropped,
      ticks_missed: data.ticksMissed,
    };
  },
};
