import { type DaemonNode, daemonNode } from "./daemon.js";
import { waitFor } from "./proc.js";
import type { ScenarioContext } from "./scenario.js";

/** Starts `count` real daemons (each its own work_dir) and waits until each has reported. */
export async function startDaemons(
  ctx: ScenarioContext,
  count: number,
  address: () => string,
  o: { clockFile?: string; workDir?: (i: number) => string | undefined } = {},
): Promise<DaemonNode[]> {
  const nodes = Array.from({ length: count }, (_, i) =>
    daemonNode({
      id: `${ctx.name}-d${i + 1}`,
      dir: ctx.dir,
      address,
      clockFile: o.clockFile,
      workDir: o.workDir?.(i),
    }),
  );
  for (const n of nodes) n.start();
  await waitReported(ctx, nodes, 0);
  ctx.note(`${count} daemon(s) reporting`);
  return nodes;
}

/** Waits until every node has rows in the database stamped at or after `sinceMs`; returns when. */
export async function waitReported(
  ctx: ScenarioContext,
  nodes: DaemonNode[],
  sinceMs: number,
  timeoutMs = 60_000,
): Promise<number> {
  const ids = nodes.map((n) => n.id);
  await waitFor(
    `rows from ${ids.length} daemon(s)`,
    async () => {
      for (const n of nodes)
        if (!n.lives.at(-1)?.running) throw new Error(`${n.id} exited (see ${n.id}.log)`);
      const [r] = await ctx.sql<{ n: number }[]>`
        select count(distinct node_id)::int as n from metrics
         where node_id = any(${ids}) and ts >= to_timestamp(${Math.floor(sinceMs / 1000)})`;
      return (r?.n ?? 0) === ids.length;
    },
    timeoutMs,
    250,
  );
  return Date.now();
}

/** The newest sample second of each node (0 if none). */
export async function newestSecond(ctx: ScenarioContext, id: string): Promise<number> {
  const [r] = await ctx.sql<{ s: string | null }[]>`
    select extract(epoch from max(ts))::bigint::text as s from metrics where node_id = ${id}`;
  return Number(r?.s ?? 0);
}
