import { sql } from "drizzle-orm";
import type { Database } from "../client.js";
import { rowsOf } from "./nodes.js";

/** A status change written by the sweeper. */
export interface Transition {
  nodeId: string;
  kind: string;
  reason: string;
}

/** Online nodes, and how many of them are silent past the cutoff. */
export async function countSilent(
  db: Database,
  cutoff: Date,
): Promise<{ online: number; silent: number }> {
  const result = await db.execute(sql`
    select count(*)::int as online,
           count(*) filter (where coalesce(last_seen_at, registered_at) < ${cutoff.toISOString()}::timestamptz)::int as silent
      from nodes where status = 'online'`);
  const row = rowsOf<{ online: number; silent: number }>(result)[0];
  return { online: Number(row?.online ?? 0), silent: Number(row?.silent ?? 0) };
}

/**
 * Marks online nodes silent since before `cutoff` offline and records an
 * `offline` event with the reason, in one statement.
 */
export async function markSilentOffline(
  db: Database,
  now: Date,
  cutoff: Date,
  graceSeconds: number,
): Promise<Transition[]> {
  const at = now.toISOString();
  const result = await db.execute(sql`
    with gone as (
      update nodes set status = 'offline', status_changed_at = ${at}::timestamptz
       where status = 'online'
         and coalesce(last_seen_at, registered_at) < ${cutoff.toISOString()}::timestamptz
      returning node_id, coalesce(last_seen_at, registered_at) as seen)
    insert into node_events (node_id, kind, reason, time)
    select node_id, 'offline',
           'no heartbeat for ' || floor(extract(epoch from (${at}::timestamptz - seen)))::bigint
             || 's (grace period ' || ${graceSeconds}::int || 's)',
           ${at}::timestamptz
      from gone
    returning node_id, kind, reason`);
  return rowsOf<{ node_id: string; kind: string; reason: string }>(result).map((r) => ({
    nodeId: r.node_id,
    kind: r.kind,
    reason: r.reason,
  }));
}

/** Marks offline nodes heard from since `cutoff` online again, with an `online` event. */
export async function markHeardOnline(
  db: Database,
  now: Date,
  cutoff: Date,
): Promise<Transition[]> {
  const at = now.toISOString();
  const result = await db.execute(sql`
    with back as (
      update nodes n set status = 'online', status_changed_at = ${at}::timestamptz
        from nodes old
       where old.node_id = n.node_id and n.status = 'offline'
         and n.last_seen_at >= ${cutoff.toISOString()}::timestamptz
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
