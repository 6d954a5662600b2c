import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../client.js";
import { rowsOf } from "./rows.js";

/** A status change written by the sweeper. */
export interface Transition {
  nodeId: string;
  kind: string;
  reason: string;
}

/** What the SQL needs to compute each node's grace (services/pacing.ts graceRule()). */
export interface GraceRule {
  /** liveness.grace_period; 0 = per node. */
  fixedSeconds: number;
  multiplier: number;
  /** Asked of daemons that do not say their interval. */
  defaultIntervalSeconds: number;
  floorSeconds: number;
}

/**
 * A node's grace period in SQL, from the same rule as Pacing.graceFor:
 * the fixed grace when set, else multiplier × max(its interval, its observed
 * cadence), where its interval is max(what it asked for or the default, floor).
 */
export function graceSql(rule: GraceRule, alias: string): SQL {
  if (rule.fixedSeconds > 0) return sql`${rule.fixedSeconds}::int`;
  const t = sql.raw(alias);
  return sql`(${rule.multiplier}::int * greatest(
      case when ${t}.requested_interval_seconds > 0 then ${t}.requested_interval_seconds
           else ${rule.defaultIntervalSeconds}::int end,
      ${rule.floorSeconds}::int, ${t}.observed_interval_seconds))`;
}

/**
 * The moment before which a node counts as silent: its last contact must be
 * older than its own grace, and so must the manager's start (the restart
 * hold is per node: a fast node is not blind for a slow node's grace).
 */
const silentSince = (rule: GraceRule, alias: string, now: string) =>
  sql`${now}::timestamptz - ${graceSql(rule, alias)} * interval '1 second'`;

/**
 * Online nodes; how many are silent past their grace (offline now unless
 * held); and how many of those only the restart hold keeps online.
 */
export async function countSilent(
  db: Database,
  now: Date,
  startedAt: Date,
  rule: GraceRule,
): Promise<{ online: number; silent: number; held: number }> {
  const at = now.toISOString();
  const since = silentSince(rule, "n", at);
  const result = await db.execute(sql`
    select count(*)::int as online,
           count(*) filter (where coalesce(n.last_seen_at, n.registered_at) < ${since}
                              and ${startedAt.toISOString()}::timestamptz < ${since})::int as silent,
           count(*) filter (where coalesce(n.last_seen_at, n.registered_at) < ${since}
                              and ${startedAt.toISOString()}::timestamptz >= ${since})::int as held
      from nodes n where n.status = 'online'`);
  const row = rowsOf<{ online: number; silent: number; held: number }>(result)[0];
  return {
    online: Number(row?.online ?? 0),
    silent: Number(row?.silent ?? 0),
    held: Number(row?.held ?? 0),
  };
}

/**
 * Marks online nodes silent past their own grace (and past the restart hold)
 * offline and records an `offline` event with the reason, in one statement.
 */
export async function markSilentOffline(
  db: Database,
  now: Date,
  startedAt: Date,
  rule: GraceRule,
): Promise<Transition[]> {
  const at = now.toISOString();
  const since = silentSince(rule, "n", at);
  const result = await db.execute(sql`
    with gone as (
      update nodes n set status = 'offline', status_changed_at = ${at}::timestamptz
       where n.status = 'online'
         and coalesce(n.last_seen_at, n.registered_at) < ${since}
         and ${startedAt.toISOString()}::timestamptz < ${since}
      returning n.node_id, coalesce(n.last_seen_at, n.registered_at) as seen,
                ${graceSql(rule, "n")} as grace)
    insert into node_events (node_id, kind, reason, time)
    select node_id, 'offline',
           'no heartbeat for ' || floor(extract(epoch from (${at}::timestamptz - seen)))::bigint
             || 's (grace period ' || grace || 's)',
           ${at}::timestamptz
      from gone
    returning node_id, kind, reason`);
  return rowsOf<{ node_id: string; kind: string; reason: string }>(result).map((r) => ({
    nodeId: r.node_id,
    kind: r.kind,
    reason: r.reason,
  }));
}

/** Marks offline nodes heard from within their grace online again, with an `online` event. */
export async function markHeardOnline(
  db: Database,
  now: Date,
  rule: GraceRule,
): Promise<Transition[]> {
  const at = now.toISOString();
  const result = await db.execute(sql`
    with back as (
      update nodes n set status = 'online', status_changed_at = ${at}::timestamptz
        from nodes old
       where old.node_id = n.node_id and n.status = 'offline'
         and n.last_seen_at >= ${silentSince(rule, "n", at)}
      returning n.node_id, old.status_changed_at as since)
    insert into node_events (node_id, kind, reason, time)
    select node_id, 'online',
           'heartbeat received after ' || floor(extract(epoch from (${at}::timestamptz - since)))::bigint
             || 's offline',
           ${at}::timestamptz
      from back
    returning node_id, kind, reason`);
  return rowsOf<{ node_id: string; kind: string; reason: string }>(result).map((r) => ({
    nodeId: r.node_id,
    kind: r.kind,
    reason: r.reason,
  }));
}

/** When offline nodes are forgotten (liveness.forget_after, liveness.ephemeral_forget_after); 0 = never. */
export interface ForgetRule {
  forgetAfterSeconds: number;
  ephemeralForgetAfterSeconds: number;
}

/**
 * Deletes nodes offline for longer than the rule allows, with their metrics,
 * and records a `deleted` event saying why, in one transaction.
 */
export async function forgetGoneNodes(
  db: Database,
  now: Date,
  rule: ForgetRule,
): Promise<Transition[]> {
  if (rule.forgetAfterSeconds <= 0 && rule.ephemeralForgetAfterSeconds <= 0) return [];
  const at = now.toISOString();
  const after = (seconds: number) =>
    seconds > 0
      ? sql`n.status_changed_at < ${at}::timestamptz - ${seconds}::int * interval '1 second'`
      : sql`false`;
  return db.transaction(async (tx) => {
    const result = await tx.execute(sql`
      with gone as (
        delete from nodes n
         where n.status = 'offline'
           and (${after(rule.forgetAfterSeconds)}
                or (n.ephemeral and ${after(rule.ephemeralForgetAfterSeconds)}))
        returning n.node_id, n.ephemeral, n.status_changed_at as since)
      insert into node_events (node_id, kind, reason, time)
      select node_id, 'deleted',
             case when ephemeral and ${rule.ephemeralForgetAfterSeconds}::int > 0
                       and since < ${at}::timestamptz - ${rule.ephemeralForgetAfterSeconds}::int * interval '1 second'
                  then 'ephemeral node offline for ' || floor(extract(epoch from (${at}::timestamptz - since)))::bigint
                       || 's (liveness.ephemeral_forget_after ' || ${rule.ephemeralForgetAfterSeconds}::int || 's)'
                  else 'offline for ' || floor(extract(epoch from (${at}::timestamptz - since)))::bigint
                       || 's (liveness.forget_after ' || ${rule.forgetAfterSeconds}::int || 's)'
             end,
             ${at}::timestamptz
        from gone
      returning node_id, kind, reason`);
    const rows = rowsOf<{ node_id: string; kind: string; reason: string }>(result);
    if (rows.length > 0) {
      const ids = JSON.stringify(rows.map((r) => r.node_id));
      await tx.execute(
        sql`delete from metrics where node_id in (select jsonb_array_elements_text(${ids}::jsonb))`,
      );
    }
    return rows.map((r) => ({ nodeId: r.node_id, kind: r.kind, reason: r.reason }));
  });
}

/**
 * Sets or clears `flapping` from the online/offline transitions since `since`,
 * with hysteresis: set at ≥ enter transitions, cleared at ≤ exit. Records
 * `flapping` / `flapping_stopped` events.
 */
export async function updateFlapping(
  db: Database,
  now: Date,
  since: Date,
  enter: number,
  exit: number,
): Promise<Transition[]> {
  const at = now.toISOString();
  const result = await db.execute(sql`
    with c as (
      select node_id, count(*)::int as n from node_events
       where kind in ('online', 'offline') and time > ${since.toISOString()}::timestamptz
       group by node_id),
    started as (
      update nodes n set flapping = true from c
       where c.node_id = n.node_id and not n.flapping and c.n >= ${enter}::int
      returning n.node_id, c.n),
    stopped as (
      update nodes n set flapping = false
       where n.flapping
         and coalesce((select c.n from c where c.node_id = n.node_id), 0) <= ${exit}::int
      returning n.node_id, coalesce((select c.n from c where c.node_id = n.node_id), 0) as n)
    insert into node_events (node_id, kind, reason, time)
    select node_id, 'flapping', n || ' status changes within the flap window', ${at}::timestamptz
      from started
    union all
    select node_id, 'flapping_stopped', 'only ' || n || ' status changes within the flap window',
           ${at}::timestamptz
      from stopped
    returning node_id, kind, reason`);
  return rowsOf<{ node_id: string; kind: string; reason: string }>(result).map((r) => ({
    nodeId: r.node_id,
    kind: r.kind,
    reason: r.reason,
  }));
}

/** Node counts by status (flapping nodes counted under "flapping" as well). */
export async function countByStatus(db: Database): Promise<Record<string, number>> {
  const result = await db.execute(sql`
    select status, count(*)::int as n, count(*) filter (where flapping)::int as flapping
      from nodes group by status`);
  const out: Record<string, number> = { online: 0, offline: 0, flapping: 0 };
  for (const r of rowsOf<{ status: string; n: number; flapping: number }>(result)) {
    out[r.status] = Number(r.n);
    out.flapping = (out.flapping ?? 0) + Number(r.flapping);
  }
  return out;
}

/** Deletes node events older than the cutoff (events are small; metrics use partitions). */
export async function pruneNodeEvents(db: Database, cutoff: Date): Promise<void> {
  await db.execute(sql`delete from node_events where time < ${cutoff.toISOString()}::timestamptz`);
}
