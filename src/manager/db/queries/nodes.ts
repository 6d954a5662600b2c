import { and, asc, count, eq, gt, type SQL, sql } from "drizzle-orm";
import type { SelectorClause } from "../../../common/selector.js";
import type { NodeRegistration } from "../../../common/types.js";
import type { Database } from "../client.js";
import { nodeEvents, nodes } from "../schema/nodes.js";

export type NodeRow = typeof nodes.$inferSelect;

/** Inserts or refreshes a node and records a `registered` event, in one transaction. */
export async function upsertNode(db: Database, reg: NodeRegistration, now: Date): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .insert(nodes)
      .values({
        ...reg,
        status: "online",
        registeredAt: now,
        lastSeenAt: now,
        statusChangedAt: now,
      })
      .onConflictDoUpdate({
        target: nodes.nodeId,
        set: {
          hostname: reg.hostname,
          ip: reg.ip,
          os: reg.os,
          arch: reg.arch,
          labels: reg.labels,
          daemonVersion: reg.daemonVersion,
          agentVersion: reg.agentVersion,
          lastSeenAt: now,
        },
      });
    await tx.insert(nodeEvents).values({ nodeId: reg.nodeId, kind: "registered", time: now });
  });
}

/** One node, or undefined. */
export async function findNode(db: Database, nodeId: string): Promise<NodeRow | undefined> {
  const rows = await db.select().from(nodes).where(eq(nodes.nodeId, nodeId)).limit(1);
  return rows[0];
}

/** One node's coalesced heartbeat: newest time, clock skew, and (when known) who sent it. */
export interface SeenEntry {
  nodeId: string;
  at: Date;
  /** undefined: not measured, the row keeps its clock_skew_seconds. */
  skewSeconds: number | undefined;
  /** `address|fingerprint` of the connection; "" when unknown (kept as it was). */
  peer?: string;
  /** notAfter of the client certificate and the time from which it is flagged. */
  certExpiresAt?: Date | undefined;
  certWarnAt?: Date | undefined;
}

/**
 * Writes many `last_seen_at` values in one statement; returns the ids that
 * exist, each with the peer the row held before (a self-join reads the old
 * row), so a replica learns that another one wrote a different peer meanwhile.
 */
export async function touchLastSeen(
  db: Database,
  seen: readonly SeenEntry[],
): Promise<{ nodeId: string; previousPeer: string }[]> {
  if (seen.length === 0) return [];
  // One JSON parameter: arrays as bind parameters differ between postgres.js and PGlite.
  const rows = JSON.stringify(
    seen.map((s) => ({
      node_id: s.nodeId,
      at: s.at.toISOString(),
      skew: s.skewSeconds ?? null,
      peer: s.peer ?? "",
      cert: s.certExpiresAt?.toISOString() ?? null,
      warn: s.certWarnAt?.toISOString() ?? null,
    })),
  );
  const result = await db.execute(sql`
    update ${nodes} as n
       set last_seen_at = greatest(n.last_seen_at, u.at),
           clock_skew_seconds = coalesce(u.skew, n.clock_skew_seconds),
           last_peer = coalesce(nullif(u.peer, ''), n.last_peer),
           cert_expires_at = coalesce(u.cert, n.cert_expires_at),
           cert_warn_at = coalesce(u.warn, n.cert_warn_at)
      from jsonb_to_recordset(${rows}::jsonb)
           as u(node_id text, at timestamptz, skew int, peer text, cert timestamptz, warn timestamptz)
      join ${nodes} as o on o.node_id = u.node_id
     where n.node_id = u.node_id
 returning n.node_id, o.last_peer as previous_peer`);
  return rowsOf<{ node_id: string; previous_peer: string }>(result).map((r) => ({
    nodeId: r.node_id,
    previousPeer: r.previous_peer,
  }));
}

/**
 * Flags one node as served by two daemons and records an `identity_conflict`
 * event naming both peers, in one transaction; no other row is touched.
 */
export async function recordIdentityConflict(
  db: Database,
  c: { nodeId: string; peers: string; at: Date; until: Date },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const hit = await tx
      .update(nodes)
      .set({
        identityConflictAt: c.at,
        identityConflictUntil: c.until,
        identityConflictPeers: c.peers,
      })
      .where(eq(nodes.nodeId, c.nodeId))
      .returning({ nodeId: nodes.nodeId });
    if (hit.length === 0) return false;
    await tx.insert(nodeEvents).values({
      nodeId: c.nodeId,
      kind: "identity_conflict",
      reason: `node_id served by two daemons at once: ${c.peers}`,
      time: c.at,
    });
    return true;
  });
}

/** Drizzle's execute() returns an array on postgres.js and `{ rows }` on PGlite. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

export interface ListNodesQuery {
  status: string;
  selector: readonly SelectorClause[];
  /** Exclusive lower bound on node_id (keyset pagination). */
  after: string;
  limit: number;
}

function nodeFilter(q: Pick<ListNodesQuery, "status" | "selector">): SQL | undefined {
  const conds: SQL[] = [];
  if (q.status) conds.push(eq(nodes.status, q.status));
  for (const c of q.selector) {
    if (c.op === "eq")
      conds.push(sql`${nodes.labels} @> ${JSON.stringify({ [c.key]: c.value })}::jsonb`);
    else if (c.op === "neq")
      conds.push(sql`not (${nodes.labels} @> ${JSON.stringify({ [c.key]: c.value })}::jsonb)`);
    else if (c.op === "exists") conds.push(sql`${nodes.labels} ? ${c.key}`);
    else conds.push(sql`not (${nodes.labels} ? ${c.key})`);
  }
  return conds.length ? and(...conds) : undefined;
}

/** A page of nodes ordered by node_id, plus the total matching the filter. */
export async function listNodes(
  db: Database,
  q: ListNodesQuery,
): Promise<{ rows: NodeRow[]; total: number }> {
  const where = nodeFilter(q);
  const rows = await db
    .select()
    .from(nodes)
    .where(q.after ? and(where, gt(nodes.nodeId, q.after)) : where)
    .orderBy(asc(nodes.nodeId))
    .limit(q.limit);
  const [countRow] = await db.select({ n: count() }).from(nodes).where(where);
  return { rows, total: countRow?.n ?? 0 };
}
