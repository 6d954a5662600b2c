import { eq, sql } from "drizzle-orm";
import type {
  Node,
  NodeRegistration,
  NodeStatus,
  NodeUsage,
  NodeWithUsage,
} from "../../../common/types.js";
import type { Database } from "../client.js";
import { nodeEvents, nodes, nodeUsage } from "../schema/nodes.js";
import { type GraceRule, graceSql } from "./liveness.js";
import { rowsOf } from "./rows.js";

type NodeRow = typeof nodes.$inferSelect;
type UsageRow = typeof nodeUsage.$inferSelect;

/**
 * A nodes row as the domain Node: the one place a row becomes what services
 * return, so the table's shape (and its bookkeeping such as last_peer) stays
 * inside db/.
 */
export function toNode(r: NodeRow): Node {
  return {
    nodeId: r.nodeId,
    hostname: r.hostname,
    ip: r.ip,
    os: r.os,
    arch: r.arch,
    labels: r.labels,
    daemonVersion: r.daemonVersion,
    agentVersion: r.agentVersion,
    // Only liveness and registration write status, and only these two values.
    status: r.status as NodeStatus,
    registeredAt: r.registeredAt,
    lastSeenAt: r.lastSeenAt,
    statusChangedAt: r.statusChangedAt,
    clockSkewSeconds: r.clockSkewSeconds,
    flapping: r.flapping,
    requestedIntervalSeconds: r.requestedIntervalSeconds,
    observedIntervalSeconds: r.observedIntervalSeconds,
    ephemeral: r.ephemeral,
    certExpiresAt: r.certExpiresAt,
    certWarnAt: r.certWarnAt,
    identityConflictAt: r.identityConflictAt,
    identityConflictUntil: r.identityConflictUntil,
    identityConflictPeers: r.identityConflictPeers,
  };
}

/** A node_usage row as NodeUsage (null: the node has no usage row yet). */
export function toNodeUsage(u: UsageRow | null): NodeUsage | null {
  if (!u) return null;
  return {
    cpuPercent: u.cpuPercent,
    memoryPercent: u.memoryPercent,
    diskPercent: u.diskPercent,
    networkRxBytesPerSecond: u.networkRxBytesPerSecond,
    networkTxBytesPerSecond: u.networkTxBytesPerSecond,
    sampledAt: u.sampledAt,
  };
}

/**
 * Inserts or refreshes a node and records a `registered` event, in one
 * transaction. A registration makes the node online at once: an offline node
 * also gets an `online` event saying it re-registered. The labels sent replace
 * the old set (a removed label is gone).
 */
export async function upsertNode(db: Database, reg: NodeRegistration, now: Date): Promise<void> {
  const { heartbeatIntervalSeconds, ephemeral, ...fields } = reg;
  const pacing = {
    requestedIntervalSeconds: heartbeatIntervalSeconds ?? 0,
    ephemeral: ephemeral ?? false,
  };
  await db.transaction(async (tx) => {
    const [before] = await tx
      .select({ status: nodes.status, since: nodes.statusChangedAt })
      .from(nodes)
      .where(eq(nodes.nodeId, reg.nodeId))
      .for("update");
    const wasOffline = before !== undefined && before.status !== "online";
    await tx
      .insert(nodes)
      .values({
        ...fields,
        ...pacing,
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
          ...pacing,
          // A new configuration starts a new cadence.
          observedIntervalSeconds: 0,
          lastSeenAt: now,
          ...(wasOffline ? { status: "online", statusChangedAt: now } : {}),
        },
      });
    await tx.insert(nodeEvents).values({ nodeId: reg.nodeId, kind: "registered", time: now });
    if (wasOffline) {
      const offlineFor = Math.max(0, Math.floor((now.getTime() - before.since.getTime()) / 1000));
      await tx.insert(nodeEvents).values({
        nodeId: reg.nodeId,
        kind: "online",
        reason: `re-registered after ${offlineFor}s ${before.status}`,
        time: now,
      });
    }
  });
}

/** One node, or undefined. */
export async function findNode(db: Database, nodeId: string): Promise<Node | undefined> {
  const rows = await db.select().from(nodes).where(eq(nodes.nodeId, nodeId)).limit(1);
  return rows[0] && toNode(rows[0]);
}

/** One node with its usage, or undefined (for GetNode). */
export async function findNodeWithUsage(
  db: Database,
  nodeId: string,
): Promise<NodeWithUsage | undefined> {
  const rows = await db
    .select({ node: nodes, usage: nodeUsage })
    .from(nodes)
    .leftJoin(nodeUsage, eq(nodeUsage.nodeId, nodes.nodeId))
    .where(eq(nodes.nodeId, nodeId))
    .limit(1);
  const r = rows[0];
  return r ? { ...toNode(r.node), usage: toNodeUsage(r.usage) } : undefined;
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
 * The gap since the previous last_seen is the node's observed cadence, kept
 * only while it is online and the gap is 1 s to its grace: a heartbeat right
 * after a registration is no cadence, and a node back from an outage must not
 * get a grace the size of the outage.
 */
export async function touchLastSeen(
  db: Database,
  seen: readonly SeenEntry[],
  rule: GraceRule,
): Promise<{ nodeId: string; previousPeer: string; requestedIntervalSeconds: number }[]> {
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
  const gap = sql`extract(epoch from (u.at - n.last_seen_at))`;
  const result = await db.execute(sql`
    update ${nodes} as n
       set last_seen_at = greatest(n.last_seen_at, u.at),
           clock_skew_seconds = coalesce(u.skew, n.clock_skew_seconds),
           observed_interval_seconds = case
             when n.status = 'online' and ${gap} >= 1 and ${gap} <= ${graceSql(rule, "n")}
             then round(${gap})::int
             else n.observed_interval_seconds end,
           last_peer = coalesce(nullif(u.peer, ''), n.last_peer),
           cert_expires_at = coalesce(u.cert, n.cert_expires_at),
           cert_warn_at = coalesce(u.warn, n.cert_warn_at)
      from jsonb_to_recordset(${rows}::jsonb)
           as u(node_id text, at timestamptz, skew int, peer text, cert timestamptz, warn timestamptz)
      join ${nodes} as o on o.node_id = u.node_id
     where n.node_id = u.node_id
 returning n.node_id, o.last_peer as previous_peer, n.requested_interval_seconds`);
  return rowsOf<{ node_id: string; previous_peer: string; requested_interval_seconds: number }>(
    result,
  ).map((r) => ({
    nodeId: r.node_id,
    previousPeer: r.previous_peer,
    requestedIntervalSeconds: Number(r.requested_interval_seconds),
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
