import { and, asc, desc, eq, gt, lt, sql } from "drizzle-orm";
import type { Node, NodeEvent, NodeWithUsage } from "../../../common/types.js";
import type { Database } from "../client.js";
import { metrics } from "../schema/metrics.js";
import { nodeEvents, nodes, nodeUsage } from "../schema/nodes.js";
import { markNodeMetricsGone } from "./fleet-rollup.js";
import { toNode, toNodeUsage } from "./nodes.js";
import { rowsOf } from "./rows.js";

/**
 * Deletes a node and its metrics and records a `deleted` event, in one
 * transaction. Returns false (and changes nothing) when the node is unknown.
 */
export async function deleteNode(db: Database, nodeId: string, now: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    const gone = await tx
      .delete(nodes)
      .where(eq(nodes.nodeId, nodeId))
      .returning({ nodeId: nodes.nodeId });
    if (gone.length === 0) return false;
    // The whole-fleet rollup has this node's past in it: its next run recomputes from there.
    await markNodeMetricsGone(tx, nodeId);
    await tx.delete(metrics).where(eq(metrics.nodeId, nodeId));
    await tx
      .insert(nodeEvents)
      .values({ nodeId, kind: "deleted", reason: "deleted by API", time: now });
    return true;
  });
}

export interface FleetCounts {
  total: number;
  byStatus: Record<string, number>;
  byOs: Record<string, number>;
  byArch: Record<string, number>;
  byVersion: Record<string, number>;
  /** Unix seconds, 0 when no node was ever seen. */
  lastSeenAt: number;
}

/** All fleet counts from one scan of nodes (grouping sets). */
export async function fleetCounts(db: Database): Promise<FleetCounts> {
  const result = await db.execute(sql`
    select grouping(status, os, arch, daemon_version)::int as g,
           status, os, arch, daemon_version, count(*)::float8 as n,
           coalesce(extract(epoch from max(last_seen_at)), 0)::float8 as last_seen
      from nodes
     group by grouping sets ((status), (os), (arch), (daemon_version), ())`);
  const out: FleetCounts = {
    total: 0,
    byStatus: {},
    byOs: {},
    byArch: {},
    byVersion: {},
    lastSeenAt: 0,
  };
  type Row = {
    g: number;
    status: string | null;
    os: string | null;
    arch: string | null;
    daemon_version: string | null;
    n: number | string;
    last_seen: number | string;
  };
  // grouping() bits, most significant first: status, os, arch, daemon_version (1 = aggregated away).
  for (const r of rowsOf<Row>(result)) {
    const n = Number(r.n);
    if (r.g === 0b1111) {
      out.total = n;
      out.lastSeenAt = Math.floor(Number(r.last_seen));
    } else if (r.g === 0b0111) out.byStatus[r.status ?? ""] = n;
    else if (r.g === 0b1011) out.byOs[r.os ?? ""] = n;
    else if (r.g === 0b1101) out.byArch[r.arch ?? ""] = n;
    else if (r.g === 0b1110) out.byVersion[r.daemon_version ?? ""] = n;
  }
  return out;
}

/** Events after `afterId` in id order, each with its node as it is now (null once deleted). */
export async function nodeEventsAfter(
  db: Database,
  afterId: number,
  limit: number,
): Promise<{ event: NodeEvent; node: NodeWithUsage | null }[]> {
  const rows = await db
    .select({ event: nodeEvents, node: nodes, usage: nodeUsage })
    .from(nodeEvents)
    .leftJoin(nodes, eq(nodes.nodeId, nodeEvents.nodeId))
    .leftJoin(nodeUsage, eq(nodeUsage.nodeId, nodeEvents.nodeId))
    .where(gt(nodeEvents.id, afterId))
    .orderBy(asc(nodeEvents.id))
    .limit(limit);
  return rows.map((r) => ({
    event: r.event,
    node: r.node && { ...toNode(r.node), usage: toNodeUsage(r.usage) },
  }));
}

/**
 * Events newest first, for one node or (nodeId "") the whole fleet, before
 * `beforeId` (0: from the newest). Keyset on id: the primary key (node_id, id) for
 * one node, node_events_id_idx for the fleet.
 */
export async function listNodeEvents(
  db: Database,
  q: { nodeId: string; beforeId: number; limit: number },
): Promise<NodeEvent[]> {
  return db
    .select()
    .from(nodeEvents)
    .where(
      and(
        q.nodeId ? eq(nodeEvents.nodeId, q.nodeId) : undefined,
        q.beforeId > 0 ? lt(nodeEvents.id, q.beforeId) : undefined,
      ),
    )
    .orderBy(desc(nodeEvents.id))
    .limit(q.limit);
}

/** The newest event id, 0 when there is none (one primary-key index probe). */
export async function latestNodeEventId(db: Database): Promise<number> {
  const rows = await db
    .select({ id: nodeEvents.id })
    .from(nodeEvents)
    .orderBy(desc(nodeEvents.id))
    .limit(1);
  return rows[0]?.id ?? 0;
}

/** Every node, ordered by id (for the Prometheus exposition). */
export async function allNodes(db: Database): Promise<Node[]> {
  const rows = await db.select().from(nodes).orderBy(asc(nodes.nodeId));
  return rows.map(toNode);
}
