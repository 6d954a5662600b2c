import { sql } from "drizzle-orm";
import type { MetricSample } from "../../../common/types.js";
import type { Database } from "../client.js";
import { rowsOf } from "./nodes.js";

/**
 * Inserts samples for one node in one statement; rows already stored (same
 * node, type, labels, timestamp) are skipped, so a retried batch adds nothing.
 * Returns how many rows were new.
 */
export async function insertMetrics(
  db: Database,
  nodeId: string,
  samples: readonly MetricSample[],
): Promise<number> {
  if (samples.length === 0) return 0;
  const types = samples.map((s) => s.type);
  const labels = samples.map((s) => JSON.stringify(s.labels));
  const ts = samples.map((s) => new Date(s.timestamp * 1000).toISOString());
  const values = samples.map((s) => JSON.stringify(s.values));
  const result = await db.execute<{ n: number }>(sql`
    with ins as (
      insert into metrics (node_id, type, labels, ts, values)
      select ${nodeId}, u.type, u.labels::jsonb, u.ts, u.values::jsonb
        from unnest(${sql.param(types)}::text[], ${sql.param(labels)}::text[],
                    ${sql.param(ts)}::timestamptz[], ${sql.param(values)}::text[])
             as u(type, labels, ts, values)
      on conflict on constraint metrics_series_ts_pk do nothing
      returning 1)
    select count(*)::int as n from ins`);
  return Number(rowsOf<{ n: number }>(result)[0]?.n ?? 0);
}
