import { and, asc, count, desc, eq, gt, lt, type SQL, sql } from "drizzle-orm";
import type { SelectorClause } from "../../../common/selector.js";
import type { NodeWithUsage } from "../../../common/types.js";
import type { Database } from "../client.js";
import { nodes, nodeUsage } from "../schema/nodes.js";
import { toNode, toNodeUsage } from "./nodes.js";

export const ORDER_KEYS = ["node_id", "last_seen", "cpu", "memory", "disk", "network"] as const;
export type OrderKey = (typeof ORDER_KEYS)[number];

/**
 * The value each order sorts by, with missing data as -1 (below every real
 * value). The usage expressions are exactly those of the node_usage indexes,
 * so a page is an index range scan; descending walks the same index backwards
 * (ties re-sorted by node_id ascending, an incremental sort). last_seen is not
 * indexed on purpose: an index there would cost every heartbeat write its HOT
 * update, so that order sorts the filtered nodes instead.
 */
const SORT: Record<Exclude<OrderKey, "node_id">, { expr: SQL; type: SQL }> = {
  last_seen: {
    expr: sql`coalesce(extract(epoch from ${nodes.lastSeenAt}), -1)`,
    type: sql.raw("numeric"),
  },
  cpu: { expr: sql`coalesce(${nodeUsage.cpuPercent}, -1)`, type: sql.raw("float8") },
  memory: { expr: sql`coalesce(${nodeUsage.memoryPercent}, -1)`, type: sql.raw("float8") },
  disk: { expr: sql`coalesce(${nodeUsage.diskPercent}, -1)`, type: sql.raw("float8") },
  network: {
    expr: sql`coalesce(${nodeUsage.networkRxBytesPerSecond} + ${nodeUsage.networkTxBytesPerSecond}, -1)`,
    type: sql.raw("float8"),
  },
};

export interface ListNodesQuery {
  status: string;
  selector: readonly SelectorClause[];
  orderBy: OrderKey;
  descending: boolean;
  /** Keyset position: the sort value (as text) and node_id of the previous page's last row. */
  after: { key: string; nodeId: string } | undefined;
  limit: number;
}

/** The status and label-selector conditions on nodes. */
export function nodeFilter(q: Pick<ListNodesQuery, "status" | "selector">): SQL | undefined {
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

/**
 * A page of nodes with their usage, in the asked order, plus the total
 * matching the filter. Keyset pagination on (sort value, node_id); ties go by
 * node_id ascending in either direction. `key` of each row is its sort value
 * as text (exact, for the next page token).
 */
export async function listNodes(
  db: Database,
  q: ListNodesQuery,
): Promise<{ rows: (NodeWithUsage & { key: string })[]; total: number }> {
  const where = nodeFilter(q);
  // The page and the total at once, on two pooled connections: at 100,000 nodes
  // the count (a scan of nodes) costs as much as the page.
  const [rows, [countRow]] = await Promise.all([
    pageOf(db, q, where),
    db.select({ n: count() }).from(nodes).where(where),
  ]);
  return {
    rows: rows.map((r) => ({ ...toNode(r.node), usage: toNodeUsage(r.usage), key: r.key })),
    total: countRow?.n ?? 0,
  };
}

/** The page itself, in the asked order from the keyset position. */
async function pageOf(
  db: Database,
  q: ListNodesQuery,
  where: SQL | undefined,
): Promise<
  { node: typeof nodes.$inferSelect; usage: typeof nodeUsage.$inferSelect | null; key: string }[]
> {
  if (q.orderBy === "node_id") {
    const after = q.after ? (q.descending ? lt : gt)(nodes.nodeId, q.after.nodeId) : undefined;
    const order = q.descending ? desc(nodes.nodeId) : asc(nodes.nodeId);
    return db
      .select({ node: nodes, usage: nodeUsage, key: sql<string>`''` })
      .from(nodes)
      .leftJoin(nodeUsage, eq(nodeUsage.nodeId, nodes.nodeId))
      .where(and(where, after))
      .orderBy(order)
      .limit(q.limit);
  }
  const { expr, type } = SORT[q.orderBy];
  const [beyond, reach] = q.descending ? ["<", "<="] : [">", ">="];
  // The plain range condition is redundant but an index condition (an OR alone is a filter).
  const after = q.after
    ? sql`${expr} ${sql.raw(reach)} ${q.after.key}::${type}
           and (${expr} ${sql.raw(beyond)} ${q.after.key}::${type}
                or (${expr} = ${q.after.key}::${type} and ${nodes.nodeId} > ${q.after.nodeId}))`
    : undefined;
  const select = { node: nodes, usage: nodeUsage, key: sql<string>`(${expr})::text` };
  // Usage orders start from node_usage (its index gives the order); every node has a row.
  const base =
    q.orderBy === "last_seen"
      ? db.select(select).from(nodes).leftJoin(nodeUsage, eq(nodeUsage.nodeId, nodes.nodeId))
      : db.select(select).from(nodeUsage).innerJoin(nodes, eq(nodes.nodeId, nodeUsage.nodeId));
  return base
    .where(and(where, after))
    .orderBy(q.descending ? desc(expr) : asc(expr), asc(nodes.nodeId))
    .limit(q.limit);
}
