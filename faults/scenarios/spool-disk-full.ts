import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkData, drainAndStop } from "../lib/checks.js";
import { startDaemons, waitReported } from "../lib/fleet.js";
import { managerPorts, startReadyManager } from "../lib/manager.js";
import { sleep, waitFor } from "../lib/proc.js";
import { type Scenario, secs } from "../lib/scenario.js";

/** About 50 spool files (a tmpfs file takes at least a 4 KiB page): full within seconds. */
const TMPFS_SIZE = "200k";

export const spoolDiskFull: Scenario = {
  name: "spool-disk-full",
  summary:
    "a daemon's work_dir on a full tmpfs during an outage: it keeps running, the loss is counted with its range",
  async run(ctx) {
    if (process.getuid?.() !== 0) throw new Error("needs root to mount a tmpfs (mount -t tmpfs)");
    const small = join(ctx.dir, "small-disk");
    mkdirSync(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE},mode=0755`, "tmpfs", small]);
    ctx.onCleanup(() => execFileSync("umount", ["-l", small]));
    const ports = await managerPorts();
    const start = (name: string) =>
      startReadyManager({ name, dir: ctx.dir, databaseUrl: ctx.databaseUrl, ports });
    let m = await start("manager-1");
    // d1 spools to the small disk; d2, on the normal disk, must not notice anything.
    const nodes = await startDaemons(ctx, 2, () => m.grpcAddress, {
      workDir: (i) => (i === 0 ? small : undefined),
    });
    const [full, other] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    await m.stop();
    const downAt = Date.now();
    const log = join(ctx.dir, `${full.id}.log`);
    await waitFor(
      "the spool disk full",
      () => readFileSync(log, "utf8").includes("spool write failed"),
      60_000,
      250,
    );
    const fullAt = Date.now();
    await sleep(4_000); // several rounds lost to the full disk
    if (!full.current) throw new Error(`${full.id} exited on a full disk`);
    m = await start("manager-2");
    const readyAt = Date.now();
    const resumedAt = await waitReported(ctx, nodes, readyAt);
    await drainAndStop(nodes);
    const data = await checkData(ctx.sql, nodes, { expectLoss: new Set([full.id]) });
    const s = full.status();
    if (!s || s.spool.dropped_samples === 0 || !s.spool.dropped_range)
      throw new Error(
        `${full.id}: the loss is not counted in status.json (${JSON.stringify(s?.spool)})`,
      );
    const [row] = await ctx.sql<{ dropped: number; from: number; to: number }[]>`
      select (values->>'samples_dropped')::float8 as dropped,
             (values->>'dropped_from_timestamp')::float8 as from,
             (values->>'dropped_to_timestamp')::float8 as to
        from metrics where node_id = ${full.id} and type = 'daemon' order by ts desc limit 1`;
    if (!row || row.dropped === 0 || row.from === 0 || row.to < row.from)
      throw new Error(
        `${full.id}: the loss is not reported as type=daemon (${JSON.stringify(row)})`,
      );
    if (data.countedLossSeconds === 0) throw new Error("no hole inside the reported loss range");
    if (other.status()?.spool.dropped_samples) throw new Error(`${other.id} dropped samples too`);
    await m.stop();
    return {
      tmpfs: TMPFS_SIZE,
      full_after: secs(fullAt - downAt),
      samples_lost: s.spool.dropped_samples,
      loss_range: `${row.to - row.from + 1}s`,
      series_seconds_missing_in_range: data.countedLossSeconds,
      outage: secs(readyAt - downAt),
      reports_resumed: secs(resumedAt - readyAt),
      rows: data.rows,
      late_rounds: data.lateRounds,
      duplicates: data.duplicates,
      gaps_outside_loss: data.gaps,
    };
  },
};
