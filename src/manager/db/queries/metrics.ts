import { sql } from "drizzle-orm";
import type { MetricSample } from "../../../common/types.js";
import type { Database } from "../client.js";
import { rowsOf } from "./nodes.js";

/** One node's samples inside a group-commit batch. */
export interface NodeSamples {
  nodeId: string;
  samples: readonly MetricSample[];
}

/**
 * Inserts the samples of many nodes in one statement; rows already stored
 * (same node, type, labels, timestamp) are skipped, so a retried batch adds
 * nothing. Rows of nodes that no longer exist are not stored: those node ids
 * come back in `missingNodes` (as seen by the same snapshot), so their
 * requests can be answered NOT_FOUND. `stored` counts the new rows.
 *
 * One JSON parameter through jsonb_to_recordset: array bind parameters differ
 * between postgres.js and PGlite, and it measured fastest of multi-row VALUES,
 * unnest and COPY (bench/ingest-statements.ts).
 */
export async function insertMetricBatch(
  db: Database,
  batch: readonly NodeSamples[],
): Promise<{ stored: number; missingNodes: string[] }> {
  const rows: {
    n: string;
    t: string;
    l: Record<string, string>;
    s: number;
    v: Record<string, number>;
  }[] = [];
  // Every batch inserts nodes in one order (a request's rows keep theirs, and a
  // retried request repeats it), so two batches holding the same rows, such as
  // a retry reaching two replicas at once, wait on each other instead of
  // deadlocking. Sorting the requests, not the rows, keeps this cheap.
  const ordered = [...batch].sort((a, b) => cmp(a.nodeId, b.nodeId));
  for (const { nodeId, samples } of ordered) {
    for (const s of samples)
      rows.push({ n: nodeId, t: s.type, l: s.labels, s: s.timestamp, v: s.values });
  }
  if (rows.length === 0) return { stored: 0, missingNodes: [] };
  const result = await db.execute(sql`
    with ins as (
      insert into metrics (node_id, type, labels, ts, values)
      select u.n, u.t, u.l, to_timestamp(u.s), u.v
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as u(n text, t text, l jsonb, s bigint, v jsonb)
       -- A node deleted since the known-node cache vouched for it gets no orphan rows.
       where exists (select 1 from nodes where nodes.node_id = u.n)
      on conflict on constraint metrics_series_ts_pk do nothing
      returning 1)
    select (select count(*)::int from ins) as n,
           (select coalesce(jsonb_agg(id), '[]'::jsonb)
              from jsonb_array_elements_text(${JSON.stringify([...new Set(batch.map((b) => b.nodeId))])}::jsonb) as id
             where not exists (select 1 from nodes where nodes.node_id = id)) as missing`);
  const row = rowsOf<{ n: number; missing: string[] | string }>(result)[0];
  // postgres.js parses jsonb; PGlite may hand it over as text.
  const missing = typeof row?.missing === "string" ? JSON.parse(row.missing) : row?.missing;
  return { stored: Number(row?.n ?? 0), missingNodes: missing ?? [] };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
