import type postgres from "postgres";
import type { DaemonNode } from "./daemon.js";
import { waitFor } from "./proc.js";

/** Seconds a restarted daemon may take from spawn to its first round on a busy 2-core machine. */
const STARTUP_SLACK_S = 6;

export const TYPES = ["cpu", "memory", "disk", "network", "daemon"];

/** Waits until every running daemon of `nodes` has (almost) nothing spooled, then stops them (SIGTERM, flushing). */
export async function drainAndStop(nodes: DaemonNode[], timeoutMs = 60_000): Promise<void> {
  await waitFor(
    "spools drained",
    () =>
      nodes.every((n) => {
        if (!n.current) return true;
        const s = n.status();
        // Fresh rounds land every second: a couple of batches is "caught up".
        return s?.registered === true && s.spool.batches <= 6;
      }),
    timeoutMs,
  );
  for (const n of nodes) {
    const r = await n.current?.stop(15_000);
    if (r && r.code !== 0) throw new Error(`${n.id}: exit ${r.code ?? r.signal} on SIGTERM`);
  }
  const left = nodes.filter((n) => (n.status()?.spool.batches ?? 0) > 0);
  if (left.length > 0)
    throw new Error(
      `spool not drained at exit: ${left.map((n) => `${n.id}=${n.status()?.spool.batches}`).join(", ")}`,
    );
}

export interface DataCheck {
  rows: number;
  series: number;
  /** Holes explained by a daemon not running (killed, restarted). */
  downHoles: number;
  /** Seconds missing inside a range the daemon itself reported as lost. */
  countedLossSeconds: number;
  /** Rounds the daemons ran late (a starved machine) and caught up: not a gap, but worth seeing. */
  lateRounds: number;
  /** What the checks count (all 0 when checkData returns). */
  duplicates: number;
  gaps: number;
  dropped: number;
  ticksMissed: number;
}

/**
 * The end-of-scenario checks: no duplicate (node_id, type, labels, ts) across
 * partitions; every series of every node complete while its daemon ran (a
 * hole only where a process was dead, or inside a loss the daemon counted);
 * every daemon's drop counters 0 unless `expectLoss` names the node.
 */
export async function checkData(
  sql: postgres.Sql,
  nodes: DaemonNode[],
  o: { expectLoss?: Set<string> } = {},
): Promise<DataCheck> {
  const problems: string[] = [];
  const [dup] = await sql<{ n: number }[]>`
    select count(*)::int as n from (
      select 1 from metrics group by node_id, type, labels, ts having count(*) > 1) d`;
  if ((dup?.n ?? 0) > 0) problems.push(`${dup?.n} duplicate (node_id, type, labels, ts)`);
  const out: DataCheck = {
    rows: 0,
    series: 0,
    downHoles: 0,
    countedLossSeconds: 0,
    lateRounds: 0,
    duplicates: dup?.n ?? 0,
    gaps: 0,
    dropped: 0,
    ticksMissed: 0,
  };
  for (const node of nodes) {
    const rows = await sql<{ type: string; l: string; s: string }[]>`
      select type, labels::text as l, extract(epoch from ts)::bigint::text as s
        from metrics where node_id = ${node.id} order by 1, 2, 3`;
    out.rows += rows.length;
    const series = new Map<string, number[]>();
    for (const r of rows) {
      const k = `${r.type} ${r.l}`;
      const list = series.get(k) ?? [];
      if (list.length === 0) series.set(k, list);
      list.push(Number(r.s));
    }
    out.series += series.size;
    for (const t of TYPES)
      if (![...series.keys()].some((k) => k.startsWith(`${t} `)))
        problems.push(`${node.id}: no ${t} rows`);
    const status = node.status();
    if (!status) {
      problems.push(`${node.id}: no status.json`);
      continue;
    }
    const lossFrom = status.spool.dropped_range
      ? Date.parse(status.spool.dropped_range.from) / 1000
      : 0;
    const lossTo = status.spool.dropped_range
      ? Date.parse(status.spool.dropped_range.to) / 1000
      : 0;
    const down = node.lives.slice(0, -1).map((p, i) => ({
      from: Math.floor(p.exitedAt / 1000) - 1,
      to: Math.ceil((node.lives[i + 1]?.startedAt ?? 0) / 1000) + STARTUP_SLACK_S,
    }));
    for (const [k, ts] of series) {
      for (let i = 1; i < ts.length; i++) {
        const a = (ts[i - 1] as number) + 1;
        const b = (ts[i] as number) - 1;
        if (b < a) continue;
        if (down.some((d) => a >= d.from && b <= d.to)) out.downHoles++;
        else if (o.expectLoss?.has(node.id) && a >= lossFrom && b <= lossTo)
          out.countedLossSeconds += b - a + 1;
        else {
          out.gaps++;
          problems.push(`${node.id} ${k}: gap ${a}..${b} (${b - a + 1} s) while running`);
        }
      }
    }
    // Counters are per process: the daemon rows keep what a SIGKILLed one had reported.
    const [c] = await sql<{ dropped: number; missed: number; late: number }[]>`
      select coalesce(max((values->>'samples_dropped')::float8), 0) as dropped,
             coalesce(max((values->>'ticks_missed')::float8), 0) as missed,
             coalesce(max((values->>'ticks_late')::float8), 0) as late
        from metrics where node_id = ${node.id} and type = 'daemon'`;
    const dropped = Math.max(status.spool.dropped_samples, c?.dropped ?? 0);
    if (!o.expectLoss?.has(node.id) && dropped > 0) {
      out.dropped += dropped;
      problems.push(`${node.id}: ${dropped} samples dropped`);
    }
    const missed = Math.max(status.ticks_missed, c?.missed ?? 0);
    out.ticksMissed += missed;
    if (missed > 0) problems.push(`${node.id}: ticks_missed ${missed}`);
    out.lateRounds += Math.max(status.ticks_late ?? 0, c?.late ?? 0);
  }
  if (problems.length > 0)
    throw new Error(
      `${problems.slice(0, 6).join("; ")}${problems.length > 6 ? ` (+${problems.length - 6} more)` : ""}`,
    );
  return out;
}
