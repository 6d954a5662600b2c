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
  // One JSON parameter: arrays as bind parameters differ between postgres.js and PGlite.
  const rows = JSON.stringify(
    samples.map((s) => ({ type: s.type, labels: s.labels, ts: s.timestamp, values: s.values })),
  );
  const result = await db.execute(sql`
    with ins as (
      insert into metrics (node_id, type, labels, ts, values)
      select ${nodeId}, u.type, u.labels, to_timestamp(u.ts), u.values
        from jsonb_to_recordset(${rows}::jsonb) as u(type text, labels jsonb, ts bigint, values jsonb)
      on conflict on constraint metrics_series_ts_pk do nothing
      returning 1)
    select count(*)::int as n from ins`);
  return Number(rowsOf<{ n: number }>(result)[0]?.n ?? 0);
}
