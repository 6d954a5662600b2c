import { count, inArray } from "drizzle-orm";
import { metrics } from "../../src/manager/db/schema/metrics.js";
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
