import { asc, count, eq, inArray } from "drizzle-orm";
import { metrics } from "../../src/manager/db/schema/metrics.js";
import { nodeEvents, nodes } from "../../src/manager/db/schema/nodes.js";
import type { Manager } from "../../src/manager/server.js";

/** How many metric rows the manager's database holds for these nodes. */
export async function rowCount(
  manager: Pick<Manager, "database">,
  nodeIds: string | readonly string[],
): Promise<number> {
  const ids = typeof nodeIds === "string" ? [nodeIds] : [...nodeIds];
  const [r] = await manager.database.db
    .select({ n: count() })
    .from(metrics)
    .where(inArray(metrics.nodeId, ids));
  return Number(r?.n ?? 0);
}

/** The node's row, or undefined. */
export const nodeRowOf = async (manager: Pick<Manager, "database">, nodeId: string) =>
  (await manager.database.db.select().from(nodes).where(eq(nodes.nodeId, nodeId)))[0];

/** The node's events, oldest first, as kind and reason. */
export const nodeEventsOf = (manager: Pick<Manager, "database">, nodeId: string) =>
  manager.database.db
    .select({ kind: nodeEvents.kind, reason: nodeEvents.reason })
    .from(nodeEvents)
    .where(eq(nodeEvents.nodeId, nodeId))
    .orderBy(asc(nodeEvents.id));
